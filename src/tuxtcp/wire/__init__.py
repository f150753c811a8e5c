"""Wire formats: checksums, sequence arithmetic, IPv4 and TCP codecs, pcap output."""
