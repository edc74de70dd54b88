/* libFuzzer harness: the checkpoint validator of lstmcl-train on arbitrary
 * bytes.  The first byte picks whether the checksum is fixed up first, so
 * that the fuzzer also reaches the checks behind it. */
#include "../tools/charlm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    charlm_config c;
    char err[256] = "";
    uint8_t *copy;
    if (size < 1)
        return 0;
    copy = malloc(size);
    if (!copy)
        return 0;
    memcpy(copy, data + 1, size - 1);
    if ((data[0] & 1) && size - 1 >= 4) {
        uint32_t crc = charlm_crc32(copy, size - 5, 0);
        copy[size - 5] = (uint8_t)crc, copy[size - 4] = (uint8_t)(crc >> 8);
        copy[size - 3] = (uint8_t)(crc >> 16), copy[size - 2] = (uint8_t)(crc >> 24);
    }
    if (charlm_check_checkpoint(copy, size - 1, &c, err, sizeof err) == 0) {
        if (c.layers < 1 || c.layers > 16 || c.V < 1 || c.V > 256 || c.H < 1 || c.E < 1)
            __builtin_trap();
    } else if (!err[0]) {
        __builtin_trap();
    }
    free(copy);
    return 0;
}
