#include "lstmcl_weights.h"

int main(void)
{
    lstmcl_weights_shape s = {1, 1, 1, 1};
    lstmcl_weights *w = 0;
    int rc = lstmcl_weights_create(&w, &s) == LSTMCL_SUCCESS ? 0 : 1;
    lstmcl_weights_destroy(w);
    return rc;
}
