"""The `peacewatch` command line."""

from __future__ import annotations

import logging
import sys
from datetime import date
from pathlib import Path

import click

from peacewatch import pipeline


class PeacewatchGroup(click.Group):
    """Turns every failure into one clear line on stderr and a non-zero exit (tracebacks with -v)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - the CLI's one place that reports any failure
            if ctx.obj and ctx.obj.get("verbose"):
                raise
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
            click.echo(f"error: {message}", err=True)
            sys.exit(1)


@click.group(cls=PeacewatchGroup)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("data"),
              show_default=True, envvar="PEACEWATCH_DATA_DIR", help="Landing zone, raw HTML, DuckDB file, reports.")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging and full tracebacks.")
@click.pass_context
def main(ctx: click.Context, data_dir: Path, verbose: bool) -> None:
    """Track how the parties to the Russia-Ukraine peace negotiation shift their positions."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ctx.obj = {"data_dir": data_dir, "verbose": verbose}


def _data_dir(ctx: click.Context) -> Path:
    return ctx.obj["data_dir"]


@main.command()
@click.option("--source", "source_ids", multiple=True, help="Crawl only this source id (repeatable).")
@click.option("--sources", "sources_path", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Sources file (default: config/sources.yaml).")
@click.option("--full", is_flag=True, help="Ignore what earlier runs fetched; refetch everything.")
@click.pass_context
def crawl(ctx: click.Context, source_ids: tuple[str, ...], sources_path: Path | None, full: bool) -> None:
    """Crawl the configured sources into the landing zone (only new or changed articles unless --full)."""
    manifest = pipeline.crawl(_data_dir(ctx), sources_path, list(source_ids) or None, full=full)
    click.echo(pipeline.describe_crawl(manifest))


@main.command()
@click.pass_context
def load(ctx: click.Context) -> None:
    """Load complete crawl runs from the landing zone into DuckDB."""
    click.echo(pipeline.describe(pipeline.load(_data_dir(ctx))))


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--source", "source_id", help="Apply this source's CSS selectors from the sources file.")
@click.option("--url", help="The page's URL, for saved pages (canonical URL and date hints).")
@click.option("--sources", "sources_path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def extract(inputs: tuple[str, ...], source_id: str | None, url: str | None, sources_path: Path | None) -> None:
    """Print one JSON line per saved page (.html or .html.gz) or URL: the crawler's own extraction."""
    import json

    from peacewatch.crawlers.inspect_pages import extract_inputs

    for record in extract_inputs(list(inputs), source_id, url, sources_path):
        click.echo(json.dumps(record, ensure_ascii=False, default=str))


@main.command()
@click.option("--reclassify", is_flag=True, help="Re-run on every article (after a model or codebook change).")
@click.pass_context
def classify(ctx: click.Context, reclassify: bool) -> None:
    """Find topics and actor-position claims in articles not yet classified."""
    click.echo(pipeline.describe(pipeline.classify(_data_dir(ctx), reclassify)))


@main.command()
@click.option("--source", "source_ids", multiple=True, help="Crawl only this source id (repeatable).")
@click.option("--sources", "sources_path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--full", is_flag=True, help="Ignore what earlier runs fetched; refetch everything.")
@click.pass_context
def run(ctx: click.Context, source_ids: tuple[str, ...], sources_path: Path | None, full: bool) -> None:
    """Crawl, load and classify in one go."""
    data_dir = _data_dir(ctx)
    click.echo(pipeline.describe_crawl(pipeline.crawl(data_dir, sources_path, list(source_ids) or None, full=full)))
    click.echo(pipeline.describe(pipeline.load(data_dir)))
    click.echo(pipeline.describe(pipeline.classify(data_dir)))


@main.command()
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Digest date (default: latest article day).")
@click.option("--window-days", type=click.IntRange(1, 365), help="Length of the recent window for 'what moved'.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Report folder (default: <data-dir>/reports).")
@click.option("--send", is_flag=True, help="E-mail the digest to the configured recipients.")
@click.pass_context
def digest(ctx: click.Context, day, window_days: int | None, out_dir: Path | None, send: bool) -> None:
    """Render the daily digest (HTML, text, Markdown) from the warehouse views."""
    target = day.date() if day else None
    report = pipeline.digest(_data_dir(ctx), target, window_days, out_dir, send)
    click.echo(f"digest for {report.day}: {report.html_path}")


@main.command()
@click.option("--backend", help="NLP backend (default: nlp.backend in config/peacewatch.yaml).")
def analyze(backend: str | None) -> None:
    """Read {"id","text"} JSON lines on stdin; write {"id","topics","claims"} lines to stdout."""
    from peacewatch.nlp.analyze import analyze_lines, load_analyzer

    analyzer = load_analyzer(backend)
    for line in analyze_lines(sys.stdin, analyzer):
        click.echo(line)


@main.command()
@click.option("--digest-date", type=click.DateTime(["%Y-%m-%d"]), default="2025-05-31", show_default=True)
@click.pass_context
def demo(ctx: click.Context, digest_date) -> None:
    """Serve the bundled newsroom on a free loopback port, then crawl, load, classify and digest it."""
    from peacewatch.demo import run_demo

    click.echo(run_demo(_data_dir(ctx), digest_date=digest_date.date()))


@main.group()
def newsroom() -> None:
    """The bundled demo newsroom."""


@newsroom.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8765, show_default=True)
@click.option("--edition", type=click.IntRange(1, 2), default=2, show_default=True,
              help="1: the site before the last days and the in-place update; 2: everything.")
@click.option("--slow-seconds", type=float, default=3.0, show_default=True, help="Delay of the slow test page.")
def newsroom_serve(host: str, port: int, edition: int, slow_seconds: float) -> None:
    """Serve the demo newsroom until interrupted."""
    from peacewatch.newsroom.server import serve_forever_cli

    serve_forever_cli(host, port, edition, slow_seconds)


@main.group()
def nlp() -> None:
    """Train and evaluate the claim and topic models."""


@nlp.command("train")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Artefact folder (default: nlp/models/encoder).")
@click.option("--seed", type=int, help="Random seed (default: the one the shipped artefacts were trained with).")
@click.option("--layers", type=click.IntRange(1, 6), help="Keep only the encoder's first N layers: faster, less accurate.")
def nlp_train(out_dir: Path | None, seed: int | None, layers: int | None) -> None:
    """Train the encoder backend on the train split (tuned on dev), reproducibly."""
    from peacewatch.nlp.train import main as train_main

    argv = ([] if out_dir is None else ["--out", str(out_dir)]) + ([] if seed is None else ["--seed", str(seed)])
    train_main(argv + ([] if layers is None else ["--layers", str(layers)]))


@nlp.command("evaluate")
@click.option("--split", type=click.Choice(["dev", "test", "newsroom"]), default="dev", show_default=True)
@click.option("--backend", help="NLP backend (default: nlp.backend in config/peacewatch.yaml).")
def nlp_evaluate(split: str, backend: str | None) -> None:
    """Per-label P/R/F1, claim-level F1, stance confusion matrix and calibration on a held-out split."""
    from peacewatch.nlp.evaluate import evaluate

    evaluate(split, backend)


@main.group()
def db() -> None:
    """The DuckDB warehouse."""


@db.command("migrate")
@click.pass_context
def db_migrate(ctx: click.Context) -> None:
    """Create or upgrade the warehouse schema and views."""
    version = pipeline.migrate(_data_dir(ctx))
    click.echo(f"warehouse {pipeline.db_path(_data_dir(ctx))} at schema version {version}")


@db.command("reindex")
@click.option("--full", is_flag=True, help="Rebuild the whole index instead of adding the queued articles.")
@click.pass_context
def db_reindex(ctx: click.Context, full: bool) -> None:
    """Bring the full-text search index up to date (after loads run with the index deferred)."""
    update = pipeline.reindex(_data_dir(ctx), full=full)
    click.echo(f"full-text index: {update.mode}, {update.articles} articles ({update.reindexed} changed texts) "
               f"in {update.seconds:.1f} s")


@main.command()
@click.argument("sql")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.pass_context
def query(ctx: click.Context, sql: str, fmt: str) -> None:
    """Run read-only SQL against the warehouse and print the result."""
    click.echo(pipeline.query(_data_dir(ctx), sql, fmt))


@main.command()
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Export folder (default: <data-dir>/export).")
@click.pass_context
def export(ctx: click.Context, fmt: str, out_dir: Path | None) -> None:
    """Export core tables and views as Parquet or CSV."""
    for path in pipeline.export(_data_dir(ctx), fmt, out_dir):
        click.echo(path)


if __name__ == "__main__":
    main()
