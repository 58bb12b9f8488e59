"""The malloc+free fast path measured two ways: fastpath (CPU ns) and callgrind_pairs (instructions).
Run from the repository root as modules: /usr/bin/python3 -m harness.fastpath.fastpath …"""
