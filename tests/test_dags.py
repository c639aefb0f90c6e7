"""The Airflow DAG files import cleanly and quickly (nothing heavy at parse time)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

DAGS = Path(__file__).resolve().parents[1] / "dags"


def test_dagbag_imports_without_errors(tmp_path):
    script = textwrap.dedent(f"""
        import json, time
        from airflow.dag_processing.dagbag import DagBag
        started = time.perf_counter()
        bag = DagBag(dag_folder={str(DAGS)!r})
        print(json.dumps({{"errors": {{k: str(v) for k, v in bag.import_errors.items()}},
                          "dags": sorted(bag.dag_ids), "seconds": time.perf_counter() - started}}))
    """)
    env = {"AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PATH": str(Path(sys.executable).parent),
           "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    import json

    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["errors"] == {}
    assert report["dags"] == ["peacewatch_crawl", "peacewatch_digest", "peacewatch_process"]
    assert report["seconds"] < 3 * len(report["dags"])
