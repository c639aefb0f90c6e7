#!/usr/bin/env bash
# `make airflow`: Airflow 3 standalone (api-server, scheduler, dag-processor, triggerer; LocalExecutor on
# SQLite) with the project's DAGs, the demo newsroom on loopback and the writer pool. For development only;
# docker-compose.yml is the production-like stack. Stop with Ctrl-C.
#
#   AIRFLOW_PORT=8080                 port of the UI and API
#   AIRFLOW_HOME=./.airflow           Airflow's config, SQLite DB, logs and generated admin password
#   PEACEWATCH_DATA_DIR=./data        the pipeline's data folder (Variable peacewatch_data_dir)
#   PEACEWATCH_NEWSROOM=1             0: no demo newsroom (e.g. with PEACEWATCH_SOURCES=config/sources.world.yaml)
#   PEACEWATCH_NEWSROOM_PORT=8765
#   PEACEWATCH_SOURCES=               sources file for the crawl DAG (default config/sources.yaml)
#   PEACEWATCH_SMTP_HOST/_PORT/...    where the digest and failure alerts go (default: not sent)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_BIN="${VENV_BIN:-$ROOT/.venv/bin}"
[ -x "$VENV_BIN/airflow" ] || { echo "error: $VENV_BIN/airflow not found: run \`make install\` first" >&2; exit 1; }
# `airflow standalone` starts its components as `airflow ...` from PATH, and tasks start `python` children.
export PATH="$VENV_BIN:$PATH"

PORT="${AIRFLOW_PORT:-8080}"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$ROOT/.airflow}"
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="${AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION:-False}"
export AIRFLOW__API__PORT="$PORT"
export AIRFLOW__API__BASE_URL="${AIRFLOW__API__BASE_URL:-http://localhost:$PORT}"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://localhost:$PORT/execution/"
export AIRFLOW_VAR_PEACEWATCH_DATA_DIR="${PEACEWATCH_DATA_DIR:-$ROOT/data}"
if [ -n "${PEACEWATCH_SOURCES:-}" ]; then
  export AIRFLOW_VAR_PEACEWATCH_SOURCES="$(cd "$ROOT" && realpath "$PEACEWATCH_SOURCES")"
fi
mkdir -p "$AIRFLOW_HOME" "$AIRFLOW_VAR_PEACEWATCH_DATA_DIR"
cd "$ROOT"

echo "airflow-standalone: AIRFLOW_HOME=$AIRFLOW_HOME, dags=$AIRFLOW__CORE__DAGS_FOLDER, data=$AIRFLOW_VAR_PEACEWATCH_DATA_DIR"
airflow db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 \
  || { tail -n 30 "$AIRFLOW_HOME/db-migrate.log" >&2; echo "error: airflow db migrate failed" >&2; exit 1; }
# DuckDB has one writer: load, classify and the digest share this pool (the DAGs name it; Airflow won't
# schedule tasks of a pool that does not exist).
python - <<'EOF'
from airflow.models.pool import Pool
from peacewatch.orchestration import WRITER_POOL, WRITER_POOL_DESCRIPTION, WRITER_POOL_SLOTS
Pool.create_or_update_pool(WRITER_POOL, WRITER_POOL_SLOTS, WRITER_POOL_DESCRIPTION, include_deferred=False)
print(f"airflow-standalone: pool {WRITER_POOL} ({WRITER_POOL_SLOTS} slot)")
EOF

# The login: the simple auth manager's user `admin`, with a password generated once and kept in AIRFLOW_HOME.
PASSWORDS="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
if [ ! -s "$PASSWORDS" ]; then
  python -c 'import json, secrets, sys; json.dump({"admin": secrets.token_urlsafe(12)}, open(sys.argv[1], "w"))' "$PASSWORDS"
fi
PASSWORD="$(python -c 'import json, sys; print(json.load(open(sys.argv[1]))["admin"])' "$PASSWORDS")"

NEWSROOM_PID=""
STANDALONE_PID=""
cleanup() {
  if [ -n "$STANDALONE_PID" ]; then kill -INT "$STANDALONE_PID" 2>/dev/null || true; wait "$STANDALONE_PID" 2>/dev/null || true; fi
  if [ -n "$NEWSROOM_PID" ]; then kill "$NEWSROOM_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT

if [ "${PEACEWATCH_NEWSROOM:-1}" != "0" ]; then
  NEWSROOM_PORT="${PEACEWATCH_NEWSROOM_PORT:-8765}"
  export PEACEWATCH_NEWSROOM_URL="http://127.0.0.1:$NEWSROOM_PORT"
  peacewatch newsroom serve --port "$NEWSROOM_PORT" >"$AIRFLOW_HOME/newsroom.log" 2>&1 &
  NEWSROOM_PID=$!
  for _ in $(seq 1 50); do
    python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/robots.txt", timeout=1)' \
      "$PEACEWATCH_NEWSROOM_URL" 2>/dev/null && break
    kill -0 "$NEWSROOM_PID" 2>/dev/null || { cat "$AIRFLOW_HOME/newsroom.log" >&2; exit 1; }
    sleep 0.2
  done
  # The newsroom is our own loopback server: crawl it without politeness delays.
  export AIRFLOW_VAR_PEACEWATCH_CRAWL_SETTINGS="${AIRFLOW_VAR_PEACEWATCH_CRAWL_SETTINGS:-$(python -c \
    'import json; from peacewatch.demo import DEMO_CRAWL_SETTINGS; print(json.dumps(DEMO_CRAWL_SETTINGS))')}"
  echo "airflow-standalone: demo newsroom at $PEACEWATCH_NEWSROOM_URL (log: $AIRFLOW_HOME/newsroom.log)"
fi

cat <<EOF

  Airflow UI:  http://localhost:$PORT
  Login:       admin / $PASSWORD
  DAGs:        peacewatch_crawl (every 30 min) -> peacewatch_process (on the landing Asset) -> peacewatch_digest (daily)
  Run now:     trigger peacewatch_crawl in the UI, or: PATH=$VENV_BIN:\$PATH AIRFLOW_HOME=$AIRFLOW_HOME airflow dags trigger peacewatch_crawl

EOF
# In the background so that TERM reaches the script, with SIGINT restored (a shell ignores it in background
# jobs, and airflow standalone shuts its components down on KeyboardInterrupt). Ctrl-C in the terminal
# reaches it directly; kill (TERM) on this script is passed on as SIGINT.
python -c 'import os, signal; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp("airflow", ["airflow", "standalone"])' &
STANDALONE_PID=$!
trap 'kill -INT "$STANDALONE_PID" 2>/dev/null || true' TERM
trap ':' INT
status=0
while kill -0 "$STANDALONE_PID" 2>/dev/null; do
  wait "$STANDALONE_PID" && status=0 || status=$?
done
STANDALONE_PID=""
exit "$status"
