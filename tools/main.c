#include "ipckit.h"
#include <stdio.h>
int main(void) { puts(ipk_version()); return 0; }
