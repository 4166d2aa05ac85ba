/*
 * main.c
 *	  mobisign-sim: command dispatch.
 */
#include "sim.h"

static void
usage(FILE *f)
{
	fprintf(f,
			"usage:\n"
			"  mobisign-sim provision --dir DIR --users N [--key-type ec|rsa] [--port P]\n"
			"                         [--msisdn-base DIGITS] [--pin DIGITS]\n"
			"  mobisign-sim run --dir DIR [--port P] [--quiet]\n"
			"  mobisign-sim revoke --dir DIR --user USER\n"
			"  mobisign-sim status --dir DIR\n"
			"  mobisign-sim client --dir DIR --port P --user USER [--op authenticate|sign]\n"
			"                      [--text TEXT] [--timeout-ms MS]\n"
			"  mobisign-sim client --dir DIR --port P --load N [--first K] [--window W]\n"
			"                      [--counter C] [--timeout-ms MS]\n"
			"  mobisign-sim answer --dir DIR --msisdn MSISDN --request HEX[,HEX...]\n"
			"                      [--behaviour B] [--last-counter N]\n"
			"See docs/simulator.md.\n");
}

int
main(int argc, char **argv)
{
	if (argc < 2)
	{
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "provision") == 0)
		return sim_cmd_provision(argc, argv);
	if (strcmp(argv[1], "run") == 0)
		return sim_cmd_run(argc, argv);
	if (strcmp(argv[1], "client") == 0)
		return sim_cmd_client(argc, argv);
	if (strcmp(argv[1], "answer") == 0)
		return sim_cmd_answer(argc, argv);
	if (strcmp(argv[1], "status") == 0)
		return sim_cmd_status(argc, argv);
	if (strcmp(argv[1], "revoke") == 0)
		return sim_cmd_revoke(argc, argv);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
	{
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "mobisign-sim: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 2;
}
