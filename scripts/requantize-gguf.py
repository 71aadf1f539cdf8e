#!/usr/bin/env python3
"""Re-quantizes a GGUF model's weights to Q8_0 (or Q4_0), keeping its metadata, tokenizer and chat template.

    requantize-gguf.py IN.gguf OUT.gguf [--type q8_0|q4_0]

Why: candle (mistral.rs's tensor library) has SIMD kernels for Q8_0 and Q4_0 but not for Q5_0, which is
most of the Q4_K_M file Lore ships as default (its hidden size, 896, is not a multiple of 256, so the
k-quants fall back to Q5_0). Dequantizing and storing the weights as Q8_0 loses almost nothing (8 bits per
weight, one scale per 32) and lets every matrix product use the fast kernel.

Tensors whose rows are not a multiple of 32 long, and 1-D tensors (norms, biases), are copied unchanged.
Needs the `gguf` and `numpy` packages (scripts/fetch-models.sh runs it in a throwaway venv). The output is
deterministic for a given input and package versions.
"""

import argparse
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter
from gguf.quants import dequantize, quantize

KEEP = {GGMLQuantizationType.F32, GGMLQuantizationType.F16, GGMLQuantizationType.BF16}


def copy_metadata(reader: GGUFReader, writer: GGUFWriter) -> None:
    for field in reader.fields.values():
        # The writer sets these itself.
        if field.name.startswith("GGUF.") or field.name == "general.architecture":
            continue
        value_type = field.types[0]
        if value_type == GGUFValueType.ARRAY:
            sub_type = field.types[-1]
            if sub_type == GGUFValueType.STRING:
                value = [bytes(field.parts[i]).decode("utf-8") for i in field.data]
            else:
                value = [field.parts[i].tolist()[0] for i in field.data]
            writer.add_key_value(field.name, value, value_type, sub_type=sub_type)
        elif value_type == GGUFValueType.STRING:
            writer.add_key_value(field.name, bytes(field.parts[-1]).decode("utf-8"), value_type)
        else:
            writer.add_key_value(field.name, field.parts[-1].tolist()[0], value_type)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source")
    parser.add_argument("target")
    parser.add_argument("--type", choices=["q8_0", "q4_0"], default="q8_0")
    args = parser.parse_args()
    target_type = GGMLQuantizationType.Q8_0 if args.type == "q8_0" else GGMLQuantizationType.Q4_0

    reader = GGUFReader(args.source)
    arch_field = reader.fields["general.architecture"]
    arch = bytes(arch_field.parts[-1]).decode("utf-8")
    part = args.target + ".part"
    writer = GGUFWriter(part, arch)
    copy_metadata(reader, writer)

    changed = 0
    for tensor in reader.tensors:
        # GGUF lists dimensions innermost first; numpy shapes are outermost first.
        shape = [int(d) for d in reversed(tensor.shape.tolist())]
        source_type = GGMLQuantizationType(tensor.tensor_type)
        row = shape[-1]
        if source_type in KEEP or source_type == target_type or len(shape) < 2 or row % 32 != 0:
            writer.add_tensor(tensor.name, tensor.data, raw_shape=tensor.data.shape, raw_dtype=source_type)
            continue
        weights = dequantize(tensor.data, source_type).reshape(shape).astype(np.float32)
        packed = quantize(weights, target_type)
        writer.add_tensor(tensor.name, packed, raw_shape=packed.shape, raw_dtype=target_type)
        changed += 1

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(part, args.target)
    print(f"requantize-gguf: {changed} of {len(reader.tensors)} tensors now {args.type} -> {args.target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
