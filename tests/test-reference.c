/* The double-precision reference checked against finite differences, so
 * that the OpenCL results are compared with something known to be right. */
#include "reference.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t N, T, D, H;
    double *x, *h0, *c0, *Wx, *Wh, *b, *dh, *dcT;
} problem;

/* L = Σ dh⊙h + Σ dcT⊙c_T: its gradients are what ref_backward returns for
 * upstream gradients dh and dcT. */
static double loss(const problem *p)
{
    ref_cache c;
    double L = 0;
    size_t n, t, j;
    ck_assert_int_eq(ref_forward(p->N, p->T, p->D, p->H, p->x, p->h0, p->c0, p->Wx, p->Wh, p->b,
                                 &c), 0);
    for (n = 0; n < p->N; n++) {
        for (t = 0; t < p->T; t++)
            for (j = 0; j < p->H; j++)
                L += p->dh[(n * p->T + t) * p->H + j] * c.h[(n * p->T + t) * p->H + j];
        for (j = 0; j < p->H; j++)
            L += p->dcT[n * p->H + j] * c.c[(n * p->T + p->T - 1) * p->H + j];
    }
    ref_cache_free(&c);
    return L;
}

static double *rand_doubles(size_t n, double scale)
{
    double *p = tu_dalloc(n);
    size_t i;
    for (i = 0; i < n; i++)
        p[i] = tu_uniform(scale);
    return p;
}

static void check_against_fd(const char *name, double *param, size_t n, const double *grad,
                             const problem *p)
{
    const double eps = 1e-5;
    double num = 0, den = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        double keep = param[i], lp, lm, fd;
        param[i] = keep + eps;
        lp = loss(p);
        param[i] = keep - eps;
        lm = loss(p);
        param[i] = keep;
        fd = (lp - lm) / (2 * eps);
        num += (fd - grad[i]) * (fd - grad[i]);
        den += fd * fd;
    }
    ck_assert_msg(den > 0, "%s: the finite differences are all zero (seed %llu)", name,
                  tu_seed());
    ck_assert_msg(sqrt(num / den) < 1e-7,
                  "%s: reference gradient differs from finite differences by %.3e (seed %llu)",
                  name, sqrt(num / den), tu_seed());
}

static void fd_case(size_t N, size_t T, size_t D, size_t H, int with_c0)
{
    problem p = {N, T, D, H, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    double *dx, *dh0, *dc0, *dWx, *dWh, *db;
    ref_cache c;

    p.x = rand_doubles(N * T * D, 1.0);
    p.h0 = rand_doubles(N * H, 0.8);
    p.c0 = with_c0 ? rand_doubles(N * H, 0.8) : NULL;
    p.Wx = rand_doubles(D * 4 * H, 0.7);
    p.Wh = rand_doubles(H * 4 * H, 0.7);
    p.b = rand_doubles(4 * H, 0.3);
    p.dh = rand_doubles(N * T * H, 1.0);
    p.dcT = rand_doubles(N * H, 1.0);
    dx = tu_dalloc(N * T * D);
    dh0 = tu_dalloc(N * H);
    dc0 = tu_dalloc(N * H);
    dWx = tu_dalloc(D * 4 * H);
    dWh = tu_dalloc(H * 4 * H);
    db = tu_dalloc(4 * H);

    ck_assert_int_eq(ref_forward(N, T, D, H, p.x, p.h0, p.c0, p.Wx, p.Wh, p.b, &c), 0);
    ck_assert_int_eq(ref_backward(&c, p.x, p.h0, p.c0, p.Wx, p.Wh, p.dh, p.dcT, dx, dh0, dc0,
                                  dWx, dWh, db), 0);
    ref_cache_free(&c);

    check_against_fd("dx", p.x, N * T * D, dx, &p);
    check_against_fd("dh0", p.h0, N * H, dh0, &p);
    if (with_c0)
        check_against_fd("dc0", p.c0, N * H, dc0, &p);
    check_against_fd("dWx", p.Wx, D * 4 * H, dWx, &p);
    check_against_fd("dWh", p.Wh, H * 4 * H, dWh, &p);
    check_against_fd("db", p.b, 4 * H, db, &p);

    free(p.x), free(p.h0), free(p.c0), free(p.Wx), free(p.Wh), free(p.b), free(p.dh);
    free(p.dcT), free(dx), free(dh0), free(dc0), free(dWx), free(dWh), free(db);
}

START_TEST(fd_small)
{
    fd_case(2, 3, 3, 2, 1);
}
END_TEST

START_TEST(fd_zero_c0)
{
    fd_case(3, 4, 2, 3, 0);
}
END_TEST

START_TEST(fd_ones)
{
    fd_case(1, 1, 1, 1, 1);
}
END_TEST

START_TEST(fd_random_shape)
{
    fd_case(tu_range(1, 3), tu_range(1, 6), tu_range(1, 5), tu_range(1, 5), 1);
}
END_TEST

/* One hand-computed step: with zero weights every gate sees only b. */
START_TEST(hand_step)
{
    const double x = 0.5, h0 = 0.25, c0 = 0.75;
    const double Wx[4] = {0, 0, 0, 0}, Wh[4] = {0, 0, 0, 0};
    const double b[4] = {0.1, -0.2, 0.3, -0.4};
    const double i = 1 / (1 + exp(-0.1)), f = 1 / (1 + exp(0.2)), o = 1 / (1 + exp(-0.3));
    const double g = tanh(-0.4), c = f * c0 + i * g, h = o * tanh(c);
    ref_cache rc;
    ck_assert_int_eq(ref_forward(1, 1, 1, 1, &x, &h0, &c0, Wx, Wh, b, &rc), 0);
    ck_assert_double_eq_tol(rc.c[0], c, 1e-15);
    ck_assert_double_eq_tol(rc.h[0], h, 1e-15);
    ck_assert_double_eq_tol(rc.gates[3], g, 1e-15);
    ref_cache_free(&rc);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reference");
    TCase *tc = tcase_create("finite differences");
    tcase_add_test(tc, fd_small);
    tcase_add_test(tc, fd_zero_c0);
    tcase_add_test(tc, fd_ones);
    tcase_add_loop_test(tc, fd_random_shape, 0, 4);
    tcase_add_test(tc, hand_step);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
