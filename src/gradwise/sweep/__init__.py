"""Sweeps: one short training per combination of a grid, each classified, and a map of which ones train.

``grid`` parses ``--grid key=v1,v2`` and spans the trials; ``trial`` trains one with the health monitor
and the guard on (the guard stops a diverging trial early); ``outcome`` names what happened; ``results`` keeps the
append-only ``results.jsonl``; ``executor`` runs trials in a local process pool or on Ray;
``stability_map`` draws ``map.png`` and the terminal table.
"""
