#!/usr/bin/env bash
# recv --json killed by SIGTERM in the middle of writing a
# 300 KB message to a pipe nobody reads yet: either the record is whole or
# its line is left unterminated; never a closed record with data missing.
TEST_TAG=sigout . "$(dirname "$0")/cli_util.sh"
if python3 "$(dirname "$0")/cli_signal_output.py" "$CLI" "$TMP" 30; then ok; else
	bad "recv --json under SIGTERM (see above)"
fi
summary
