"""`harness convert SRC DST --processor HF_FOLDER`: an original InternVL3 checkpoint in the -hf layout."""

from __future__ import annotations

import argparse



def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="folder of the original checkpoint (config.json says InternVLChatModel)")
    parser.add_argument("dst", help="new folder for the -hf checkpoint (must not exist)")
    parser.add_argument("--processor", required=True,
                        help="folder of the matching -hf model, whose tokenizer and image processor are copied "
                             "(e.g. a download of OpenGVLab/InternVL3-1B-hf)")


def main(args: argparse.Namespace) -> int:
    from harness.models.convert_internvl import convert_folder

    out = convert_folder(args.src, args.dst, args.processor)
    print(f"converted: {out} (load it with 'path: {out}')")
    return 0
