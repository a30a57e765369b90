#!/bin/sh
# Fetch MNIST into this folder ($MLP_MNIST_DATA when set, or --dest DIR)
# and verify each file. MLP_MNIST_MIRRORS="URL ..." names mirrors to try
# first. Uses the Python of the active virtual environment; set PYTHON to
# override.
set -e
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-$(command -v python || command -v python3 || true)}
if [ -z "$python" ]; then
    echo "error: no python found; activate the venv or set PYTHON" >&2
    exit 1
fi
cd "$here/.."
# run from the checkout, so the package finds its data/ folder
exec "$python" -m mlp_mnist.download "$@"
