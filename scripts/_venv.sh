# Sourced by scripts/serve and scripts/test: makes .venv at the repository root and installs reelhouse and the
# SDK in sdk/ (the CLI's media commands use it) into it, again only when a pyproject.toml changed.
# Needs Python 3.11+ and nothing from apt.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "reelhouse needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
  exit 1
}
extras="${1:-}"
stamp=".venv/.installed${extras:+-$extras}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ sdk/pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}" -e ./sdk
  touch "$stamp"
fi
