# free_port: print a TCP port on 127.0.0.1 for a test that must name one
# (a peer such as nngcat or an example program that cannot report the port
# it was given). The port is below the kernel's ephemeral range, so no
# client connection of a concurrently running test can be holding it, and
# nobody listens on it now; the pick is random, so two tests seldom try
# the same one.
free_port() {
	local lo=20000 hi p i
	read -r hi _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || hi=32768
	[ "$hi" -gt $((lo + 1000)) ] || lo=$((hi / 2))
	p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo)))
	for i in $(seq 500); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
		p=$((lo + (p - lo + 1) % (hi - lo)))
	done
	echo "free_port: no free port in $lo-$((hi - 1))" >&2
	return 1
}
