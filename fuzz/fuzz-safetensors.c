/* libFuzzer harness: the safetensors reader (lstmcl_weights_read_safetensors)
 * on arbitrary bytes.  The first byte picks the prefix argument, so that both
 * the automatic and the named prefix are reached. */
#include "lstmcl_weights.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const prefixes[4] = {NULL, "", "lstm.", "rnn."};
    lstmcl_weights *w = NULL;
    lstmcl_weights_shape s;
    const float *p;
    size_t count, i, l, want = 0;
    if (size < 1)
        return 0;
    if (lstmcl_weights_read_safetensors(&w, data + 1, size - 1, prefixes[data[0] & 3]) !=
        LSTMCL_SUCCESS) {
        const char *m = lstmcl_weights_last_message();
        if (w || !m[0] || strlen(m) > 1023)
            __builtin_trap(); /* a failure leaves nothing and always says why */
        return 0;
    }
    /* what was read is a well-formed model of finite numbers */
    lstmcl_weights_get_shape(w, &s);
    if (s.layers < 1 || s.layers > 64 || (s.directions != 1 && s.directions != 2) ||
        s.input_size < 1 || s.hidden_size < 1)
        __builtin_trap();
    for (l = 0; l < s.layers; l++)
        want += s.directions * (lstmcl_weights_layer_input_size(w, l) + s.hidden_size + 1) * 4 *
                s.hidden_size;
    p = lstmcl_weights_data(w, &count);
    if (count != want || 2 * count > size) /* at least two bytes an element */
        __builtin_trap();
    for (i = 0; i < count; i++)
        if (!isfinite(p[i]))
            __builtin_trap();
    lstmcl_weights_destroy(w);
    return 0;
}
