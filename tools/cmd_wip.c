/* Temporary: replaced by cmd_relay.c, cmd_demo.c. */
#include "cli.h"
static int wip(int argc, char **argv) { (void)argc; return cli_fail(argv[0], 0, "not yet written"); }
const struct ipk_cmd cli_cmd_relay = {"relay", "", "", "", wip};
const struct ipk_cmd cli_cmd_demo = {"demo", "", "", "", wip};
