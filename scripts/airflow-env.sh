#!/usr/bin/env bash
# airflow-env.sh — a cached virtualenv with a real Apache Airflow 3 for the end-to-end tests
# (test/airflowE2e.test.ts) and for local use. Created once, OUTSIDE the repository:
#   ${MEDIC_CACHE:-$HOME/.cache/medic}/airflow-<version>-venv
# holding apache-airflow==<version>, apache-airflow-providers-openlineage, pytest and the
# medic_airflow package of this repository (integrations/airflow, installed as a copy; it is
# re-installed, in about a second, whenever its sources change).
#
# Versions: Airflow 3.3.2, the newest 3.x on PyPI when this was written (`pip index versions
# apache-airflow`). Airflow's official constraints files live on GitHub, which CI cannot reach,
# so integrations/airflow/constraints/airflow-<version>-py<major.minor>.txt pins every package
# of a resolved and tested install (pip freeze); it is used when it exists for the running
# Python, otherwise pip resolves freely (and says so). AIRFLOW_ENV_NO_CONSTRAINTS=1 ignores it.
#
# Prints the venv path on stdout (last line); progress goes to stderr. Idempotent: a complete
# venv has the marker file .medic-complete (its content names what was installed); a venv
# without it (an interrupted install) is removed and built again. Concurrent callers are
# serialised with flock.
#
# Environment:
#   MEDIC_CACHE                 cache root (default $HOME/.cache/medic)
#   AIRFLOW_VERSION             default 3.3.2
#   AIRFLOW_PYTHON              interpreter for the venv (default python3; Airflow 3.3 needs 3.10–3.14)
#   AIRFLOW_ENV_NO_CONSTRAINTS  1 = resolve from PyPI without the pins file
#   PIP_INDEX_URL etc.          honoured by pip as usual
set -euo pipefail

AIRFLOW_VERSION="${AIRFLOW_VERSION:-3.3.2}"
CACHE_ROOT="${MEDIC_CACHE:-$HOME/.cache/medic}"
PYTHON="${AIRFLOW_PYTHON:-python3}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PKG_DIR="$REPO_ROOT/integrations/airflow"
VENV="$CACHE_ROOT/airflow-$AIRFLOW_VERSION-venv"
MARKER="$VENV/.medic-complete"
PKG_MARKER="$VENV/.medic-airflow.sha256"

log() { echo "airflow-env: $*" >&2; }
die() { log "$*"; exit 1; }

usage() {
  cat <<'EOF'
Usage: scripts/airflow-env.sh [ensure|path|--help]

  ensure (default)  create the cached Airflow virtualenv if needed; print its path
  path              print the venv path without creating anything (exit 1 if incomplete)

Environment: MEDIC_CACHE, AIRFLOW_VERSION, AIRFLOW_PYTHON, AIRFLOW_ENV_NO_CONSTRAINTS.
EOF
}

pkg_hash() {
  # Sources of medic_airflow that end up in the venv.
  (cd "$PKG_DIR" && find pyproject.toml src -type f \( -name '*.py' -o -name '*.toml' -o -name '*.typed' \) -print0 \
    | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1
}

py_minor() { "$1" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")'; }

build_venv() {
  local started=$SECONDS minor constraints=() cfile pip
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found (set AIRFLOW_PYTHON)"
  minor="$(py_minor "$PYTHON")"
  "$PYTHON" -c 'import sys; sys.exit(0 if (3,10) <= sys.version_info[:2] <= (3,14) else 1)' \
    || die "Airflow $AIRFLOW_VERSION needs Python 3.10–3.14 ($PYTHON is $minor)"
  cfile="$PKG_DIR/constraints/airflow-$AIRFLOW_VERSION-py$minor.txt"
  if [[ "${AIRFLOW_ENV_NO_CONSTRAINTS:-}" != 1 && -f "$cfile" ]]; then
    constraints=(-c "$cfile")
  else
    log "no pins file used ($cfile): pip resolves Airflow's dependencies freely"
    cfile="(none)"
  fi
  rm -rf "$VENV"
  log "creating $VENV (Python $minor, apache-airflow==$AIRFLOW_VERSION); this takes a minute or two"
  "$PYTHON" -m venv "$VENV"
  pip=("$VENV/bin/python" -m pip --disable-pip-version-check --no-input)
  # setuptools>=70.1 builds wheels itself (no "wheel" package): medic_airflow is installed
  # with --no-build-isolation, so no PyPI round trip when only its sources change.
  "${pip[@]}" install -q "${constraints[@]}" \
    "apache-airflow==$AIRFLOW_VERSION" apache-airflow-providers-openlineage pytest "setuptools>=70.1" >&2
  "$VENV/bin/airflow" version >/dev/null 2>&1 || die "the installed airflow does not start: $VENV/bin/airflow version"
  {
    echo "apache-airflow==$AIRFLOW_VERSION"
    echo "python=$minor"
    echo "constraints=$cfile"
    echo "created=$(date -u +%FT%TZ) seconds=$((SECONDS - started))"
  } >"$MARKER.tmp"
  mv "$MARKER.tmp" "$MARKER"
  rm -f "$PKG_MARKER"
  log "venv ready in $((SECONDS - started)) s"
}

install_package() {
  local want
  want="$(pkg_hash)"
  if [[ -f "$PKG_MARKER" && "$(<"$PKG_MARKER")" == "$want" ]]; then return 0; fi
  log "installing medic_airflow from $PKG_DIR"
  # A copy, not -e: the cache is shared by every checkout; the hash above brings it up to date.
  "$VENV/bin/python" -m pip --disable-pip-version-check --no-input install -q --no-deps \
    --no-build-isolation --force-reinstall "$PKG_DIR" >&2
  # Drop the build directory setuptools leaves in the source tree.
  rm -rf "$PKG_DIR/build" "$PKG_DIR"/src/*.egg-info
  echo "$want" >"$PKG_MARKER"
}

cmd_ensure() {
  mkdir -p "$CACHE_ROOT"
  local lock_fd
  if command -v flock >/dev/null; then
    exec {lock_fd}>"$CACHE_ROOT/.airflow-$AIRFLOW_VERSION.lock"
    flock "$lock_fd"
  fi
  [[ -f "$MARKER" && -x "$VENV/bin/airflow" ]] || build_venv
  install_package
  echo "$VENV"
}

case "${1:-ensure}" in
  ensure) cmd_ensure ;;
  path) [[ -f "$MARKER" ]] && echo "$VENV" || exit 1 ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
