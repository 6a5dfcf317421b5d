"""City-scale benchmarks (issue 8): ``python -m benchmarks.run [--quick] [--db sqlite|postgres]``.

``benchmarks.generate`` builds the scale datasets (real migrations, then bulk inserts);
``benchmarks.run`` measures through the real application and writes
``benchmarks/results/latest.json`` and ``latest.md``.
"""
