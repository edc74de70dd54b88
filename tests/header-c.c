/* The public headers compile alone (built with -std=c99 -pedantic -Werror). */
#include "lstmcl.h"

int main(void)
{
    lstmcl_context *ctx = 0;
    (void)ctx;
    return lstmcl_status_string(LSTMCL_SUCCESS)[0] == 's' ? 0 : 1;
}
