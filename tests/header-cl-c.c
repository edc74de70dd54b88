#include "lstmcl_cl.h"

int main(void)
{
    return lstmcl_context_queue(0) == 0 ? 0 : 1;
}
