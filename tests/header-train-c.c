#include "lstmcl_train.h"

int main(void)
{
    lstmcl_adam_settings s;
    lstmcl_adam_default_settings(&s);
    return s.beta1 > 0 ? 0 : 1;
}
