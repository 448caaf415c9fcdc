"""
recv --json stopped by SIGTERM while its stdout write is blocked: a record
cut short must not be closed as if whole (a parser would take it), and the
signal is no "writing to stdout" error. Run by test_cli_signal_output.sh.
"""
import json, os, random, signal, subprocess, sys, time
cli, tmp = sys.argv[1], sys.argv[2]
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 30
big = os.path.join(tmp, "big")
with open(big, "wb") as f:
    f.write(b"A" * 300000)
bad = cut = whole = 0
for i in range(runs):
    addr = "unix:%s/s%d.sock" % (tmp, i)
    p = subprocess.Popen([cli, "recv", addr, "--json", "-n", "1", "--print-address"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stderr.readline()  # listening
    with open(big, "rb") as f:
        s = subprocess.Popen([cli, "send", "-t", "5000", addr, "--whole"], stdin=f,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(random.uniform(0, 0.05))
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    s.wait(timeout=30)
    for line in out.decode().split("\n"):
        if not line.endswith("}"):
            if line:
                cut += 1
            continue
        rec = json.loads(line)
        if len(rec["data"]) != rec["size"]:
            bad += 1
            print("FAIL: a whole-looking record holds %d of %d bytes"
                  % (len(rec["data"]), rec["size"]))
        else:
            whole += 1
    if b"Interrupted system call" in err:
        bad += 1
        print("FAIL: stderr: %s" % err.decode().strip())
print("whole %d, cut %d, bad %d" % (whole, cut, bad))
sys.exit(1 if bad else 0)
