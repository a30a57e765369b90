#!/bin/sh
# Fetch MNIST into this folder (or --dest DIR) and verify its SHA-256.
# Uses the Python of the active virtual environment; set PYTHON to override.
set -e
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-$(command -v python || command -v python3)}
cd "$here/.."
case " $* " in
    *" --dest"*) exec "$python" -m mlp_mnist.download "$@" ;;
    *) exec "$python" -m mlp_mnist.download --dest "$here" "$@" ;;
esac
