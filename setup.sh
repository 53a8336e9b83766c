#!/usr/bin/env bash
# Install rwae on a CPU machine: torch==2.13.0 (the CPU build) first, so that nothing pulls a
# multi-GB CUDA build, then the package with its test extras (editable).
set -euo pipefail
cd "$(dirname "$0")"
python -m pip install --quiet torch==2.13.0
python -m pip install --quiet -e ".[dev]"
python -c "import rwae, torch; print(f'rwae {rwae.__version__} with torch {torch.__version__}')"
