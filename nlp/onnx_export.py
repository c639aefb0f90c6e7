"""Export the encoder to ONNX (fp32) and quantise it dynamically to int8, into a cache directory.

`ensure_onnx(model_dir, quantized)` returns the path of `encoder.onnx` or `encoder.int8.onnx` under
`cache_dir()/<key>/` (nlp/encoder.py: $PEACEWATCH_MODEL_CACHE, <data dir>/models, or
~/.cache/peacewatch/models), building it on first use. The key is derived from the verified weights'
sha256 and the trained adapter's sha256, so a retrained model never reuses a stale export. The export runs in its own process
(`python -m peacewatch.nlp.onnx_export MODEL_DIR OUT_DIR`) with `torch.onnx.export(..., dynamo=False)`,
and files are written to a temporary name and renamed, so a crash never leaves a half-written model.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

OPSET = 17
FP32_NAME = "encoder.onnx"
INT8_NAME = "encoder.int8.onnx"


def export_fp32(model_dir: Path, out_path: Path, adapter: Path | None = None, layers: int | None = None) -> None:
    """torch.onnx.export of the BERT encoder (last_hidden_state, adapter merged), dynamic batch and sequence axes."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from peacewatch.nlp.encoder import load_base_model

    model = load_base_model(model_dir, adapter, layers)

    class Wrapper(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]

    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.long)
    mask = (ids != 0).long()
    with torch.no_grad():
        torch.onnx.export(
            Wrapper(model),
            (ids, mask, torch.zeros_like(ids)),
            str(out_path),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "batch", 1: "sequence"} for name in ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")},
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def quantize_int8(fp32_path: Path, out_path: Path) -> None:
    """Dynamic int8 quantisation of the MatMul weights (per channel; activations quantised at run time).

    Embedding lookups stay fp32: quantising them too costs ~5 points of cosine similarity to fp32."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32_path), str(out_path), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"])


def _build(model_dir: Path, out_dir: Path, adapter: Path | None = None, layers: int | None = None) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        fp32 = Path(tmp) / FP32_NAME
        int8 = Path(tmp) / INT8_NAME
        export_fp32(model_dir, fp32, adapter, layers)
        quantize_int8(fp32, int8)
        os.replace(int8, out_dir / INT8_NAME)
        os.replace(fp32, out_dir / FP32_NAME)


def ensure_onnx(model_dir: Path, quantized: bool = False, adapter: Path | None = None, layers: int | None = None,
                timeout: float = 900) -> Path:
    """Path of the fp32 or int8 ONNX encoder (its first `layers` layers if given, with the adapter merged),
    exported in a subprocess on first use."""
    from peacewatch.nlp.encoder import MODEL_SHA256, EncoderError, cache_dir, file_sha256

    key = (f"minilm-{MODEL_SHA256[:16]}" + (f"-layers-{layers}" if layers is not None else "")
           + (f"-adapter-{file_sha256(adapter)[:16]}" if adapter else ""))
    out_dir = cache_dir() / key
    target = out_dir / (INT8_NAME if quantized else FP32_NAME)
    if target.is_file():
        return target
    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise EncoderError("the onnx runtimes need the onnxruntime package (pip install onnxruntime onnx)") from exc
    result = subprocess.run(
        [sys.executable, "-m", "peacewatch.nlp.onnx_export", str(model_dir), str(out_dir)]
        + (["--adapter", str(adapter)] if adapter else [])
        + (["--layers", str(layers)] if layers is not None else []),
        capture_output=True, text=True, timeout=timeout, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    if result.returncode != 0 or not target.is_file():
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise EncoderError(f"ONNX export failed (exit {result.returncode}): {tail[0]}")
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m peacewatch.nlp.onnx_export", description=__doc__.split("\n")[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--adapter", type=Path, default=None, help="low-rank adapter to merge before export")
    parser.add_argument("--layers", type=int, default=None, help="keep only the first N transformer layers")
    args = parser.parse_args(argv)
    from peacewatch.nlp.encoder import verify_model_dir

    _build(verify_model_dir(args.model_dir), args.out_dir, args.adapter, args.layers)
    print(args.out_dir)


if __name__ == "__main__":
    main()
