#!/usr/bin/python3
"""curves_svg.py: held-out bits per character against training steps, from
the curve.csv files of lstmcl-train and tools/charlm_torch.py, as one SVG.

    tools/curves_svg.py --title TITLE -o OUT.svg LABEL=curve.csv ...
"""
import argparse
import csv

COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e"]


def read(path):
    pts = []
    with open(path) as f:
        for row in csv.DictReader(f):
            pts.append((int(row["step"]), float(row["heldout_bits_per_char"])))
    return pts


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--title", default="held-out bits per character")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("curves", nargs="+", help="LABEL=curve.csv")
    a = p.parse_args()
    curves = []
    for c in a.curves:
        label, path = c.split("=", 1)
        curves.append((label, read(path)))
    W, H, L, R, T, B = 720, 420, 70, 20, 40, 50
    xs = [s for _, pts in curves for s, _ in pts]
    ys = [v for _, pts in curves for _, v in pts]
    maxx = max(xs)
    lo, hi = int(min(ys) * 4) / 4.0, int(max(ys) * 4 + 1) / 4.0

    def X(s):
        return L + (W - L - R) * s / maxx

    def Y(v):
        return T + (H - T - B) * (1 - (v - lo) / (hi - lo))

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (W, H),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="15">%s</text>' % (L, a.title)]
    for i in range(6):
        v = lo + (hi - lo) * i / 5
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>'
                   '<text x="%d" y="%.1f" text-anchor="end">%.2f</text>'
                   % (L, Y(v), W - R, Y(v), L - 6, Y(v) + 4, v))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>'
                   % (X(maxx * i / 5), H - B + 18, maxx * i / 5))
    out.append('<text x="%d" y="%d" text-anchor="middle">training step</text>'
               % ((L + W - R) // 2, H - 12))
    for k, (label, pts) in enumerate(curves):
        col = COLOURS[k % len(COLOURS)]
        out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>'
                   % (col, " ".join("%.1f,%.1f" % (X(s), Y(v)) for s, v in pts)))
        out.append('<text x="%d" y="%d" fill="%s">%s (%.3f at step %d)</text>'
                   % (W - R - 330, T + 16 + 16 * k, col, label, pts[-1][1], pts[-1][0]))
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>'
               '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>'
               % (L, T, L, H - B, L, H - B, W - R, H - B))
    out.append("</svg>")
    with open(a.output, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
