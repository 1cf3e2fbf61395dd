"""LoRA fine-tune of a base model on the teacher's answers: the training entry of the Distill
pipeline, the same script locally (CLI flags) and in the SageMaker training job (SM_* environment).

Inputs
  train dir   train.jsonl, one {"messages": [..., {"role": "assistant", ...}]} per line
              (SageMaker: $SM_CHANNEL_TRAIN)
  model dir   the base model in Hugging Face layout (SageMaker: $SM_CHANNEL_MODEL, staged from the
              kit's weights bucket: nothing is downloaded, HF_HUB_OFFLINE=1)
  hyper-parameters  JSON (SageMaker: $SM_HPS): lora_r, lora_alpha, epochs, learning_rate,
              max_seq_len; optional lora_dropout, batch_size, seed, and for the manifest
              base_model, base_revision, dataset_version, teacher. CLI flags override them.
Output (output dir, SageMaker: $SM_MODEL_DIR)
  adapter_config.json, adapter_model.safetensors (a PEFT adapter vLLM serves with --enable-lora)
  and manifest.json: base model, revision, dataset version, teacher, hyper-parameters, sha256 of
  every file, training loss.

Loss is on the assistant's answer only (prompt-completion format): the student learns to answer,
not to repeat questions.
"""
import argparse
import hashlib
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULTS = {
    "lora_r": 16,
    "lora_alpha": 32,
    "lora_dropout": 0.05,
    "epochs": 2,
    "learning_rate": 2e-4,
    "max_seq_len": 1024,
    "batch_size": 8,
    "seed": 42,
}
INT_HPS = {"lora_r", "lora_alpha", "epochs", "max_seq_len", "batch_size", "seed"}
FLOAT_HPS = {"lora_dropout", "learning_rate"}
TEXT_HPS = {"base_model", "base_revision", "dataset_version", "teacher"}


class UsageError(Exception):
    pass


def hyper_parameters(sm_hps, overrides):
    """SM_HPS values arrive as JSON; the SageMaker console and SDKs also send numbers as strings."""
    try:
        given = json.loads(sm_hps) if sm_hps else {}
    except json.JSONDecodeError as e:
        raise UsageError(f"SM_HPS / --hps is not JSON: {e}")
    if not isinstance(given, dict):
        raise UsageError("SM_HPS / --hps must be a JSON object")
    hps = dict(DEFAULTS)
    for key, value in {**given, **{k: v for k, v in overrides.items() if v is not None}}.items():
        if key.startswith("sagemaker_"):
            # The framework's own settings (sagemaker_program, sagemaker_submit_directory, ...) travel with the hyper-parameters.
            continue
        try:
            if key in INT_HPS:
                hps[key] = int(value)
            elif key in FLOAT_HPS:
                hps[key] = float(value)
            elif key in TEXT_HPS:
                hps[key] = str(value)
            else:
                raise UsageError(f"unknown hyper-parameter {key!r} (known: {', '.join(sorted(INT_HPS | FLOAT_HPS | TEXT_HPS))})")
        except ValueError:
            raise UsageError(f"hyper-parameter {key}={value!r} is not a number")
    for key in ("lora_r", "lora_alpha", "epochs", "max_seq_len", "batch_size"):
        if hps[key] < 1:
            raise UsageError(f"hyper-parameter {key} must be at least 1, not {hps[key]}")
    if not 0 < hps["learning_rate"] < 1:
        raise UsageError(f"learning_rate must be between 0 and 1, not {hps['learning_rate']}")
    return hps


def read_examples(train_dir):
    path = os.path.join(train_dir, "train.jsonl")
    if not os.path.isfile(path):
        raise UsageError(f"no train.jsonl in {train_dir} (the pipeline's split step writes dataset/train.jsonl)")
    prompts, completions = [], []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                messages = json.loads(line)["messages"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise UsageError(f"{path} line {number}: expected {{\"messages\": [...]}}")
            if not messages or messages[-1].get("role") != "assistant":
                raise UsageError(f"{path} line {number}: the last message must be the assistant's answer")
            prompts.append([{"role": m["role"], "content": m["content"]} for m in messages[:-1]])
            completions.append([{"role": "assistant", "content": messages[-1]["content"]}])
    if not prompts:
        raise UsageError(f"{path} holds no examples")
    return prompts, completions


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def train(train_dir, model_dir, output_dir, hps):
    # Inputs are checked before the (slow) imports: a wrong path fails in well under a second.
    if not os.path.isfile(os.path.join(model_dir, "config.json")):
        raise UsageError(f"{model_dir} holds no Hugging Face model (config.json missing): stage the base model first")
    prompts, completions = read_examples(train_dir)

    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    started = time.time()
    torch.manual_seed(hps["seed"])
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    gpu = torch.cuda.is_available()
    if not gpu and "OMP_NUM_THREADS" not in os.environ:
        # On a shared CPU, threads that wait on each other at every operator cost far more than they
        # bring for a small model (measured: one thread ran an epoch 10x faster on a busy 2-core machine).
        torch.set_num_threads(1)
    # bf16 where the GPU has it (A10G, A100, L4...); T4 (g4dn) has not: fp16 weights, fp32 LoRA weights (PEFT's default), fp16 mixed precision.
    bf16 = gpu and torch.cuda.is_bf16_supported()
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True, dtype=torch.bfloat16 if bf16 else torch.float16 if gpu else torch.float32)
    dataset = Dataset.from_dict({"prompt": prompts, "completion": completions})
    with tempfile.TemporaryDirectory() as scratch:
        config = SFTConfig(
            output_dir=scratch,
            num_train_epochs=hps["epochs"],
            learning_rate=hps["learning_rate"],
            per_device_train_batch_size=hps["batch_size"],
            max_length=hps["max_seq_len"],
            completion_only_loss=True,
            logging_steps=1,
            save_strategy="no",
            report_to=[],
            seed=hps["seed"],
            bf16=bf16,
            fp16=gpu and not bf16,
            use_cpu=not gpu,
            dataloader_num_workers=0,
            disable_tqdm=True,
        )
        lora = LoraConfig(r=hps["lora_r"], lora_alpha=hps["lora_alpha"], lora_dropout=hps["lora_dropout"], target_modules="all-linear", task_type="CAUSAL_LM")
        trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer, peft_config=lora)
        result = trainer.train()
        os.makedirs(output_dir, exist_ok=True)
        trainer.model.save_pretrained(output_dir, safe_serialization=True)
    # PEFT's generated model card names the job's local paths and nothing the manifest does not say better.
    card = os.path.join(output_dir, "README.md")
    if os.path.isfile(card):
        os.remove(card)
    files = sorted(f for f in os.listdir(output_dir) if f != "manifest.json" and os.path.isfile(os.path.join(output_dir, f)))
    manifest = {
        "base_model": hps.get("base_model") or os.path.basename(os.path.normpath(model_dir)),
        "base_revision": hps.get("base_revision") or sha256(os.path.join(model_dir, "config.json")),
        "dataset_version": hps.get("dataset_version"),
        "teacher": hps.get("teacher"),
        "hyper_parameters": {k: hps[k] for k in DEFAULTS},
        "examples": len(prompts),
        "train_loss": result.training_loss,
        "train_seconds": round(time.time() - started, 1),
        "device": "cuda" if gpu else "cpu",
        "files": {f: sha256(os.path.join(output_dir, f)) for f in files},
    }
    with open(os.path.join(output_dir, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return manifest


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-dir", default=os.environ.get("SM_CHANNEL_TRAIN"))
    parser.add_argument("--model-dir", default=os.environ.get("SM_CHANNEL_MODEL"))
    parser.add_argument("--output-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--hps", default=os.environ.get("SM_HPS", ""), help="hyper-parameters as JSON (default: $SM_HPS)")
    # SageMaker's script mode also passes every hyper-parameter as "--lora_r 16": both spellings work.
    for name, kind in [("lora_r", int), ("lora_alpha", int), ("lora_dropout", float), ("epochs", int), ("learning_rate", float), ("max_seq_len", int), ("batch_size", int), ("seed", int)]:
        parser.add_argument(f"--{name.replace('_', '-')}", f"--{name}", dest=name, type=kind)
    for name in ("base_model", "base_revision", "dataset_version", "teacher"):
        parser.add_argument(f"--{name.replace('_', '-')}", f"--{name}", dest=name)
    args, unknown = parser.parse_known_args(argv)
    # The framework's own arguments (--sagemaker_program train_lora.py ...) are not the script's business.
    stray = [a for i, a in enumerate(unknown) if a.startswith("--") and not a.startswith("--sagemaker_")]
    if stray:
        parser.error(f"unrecognized arguments: {' '.join(stray)}")
    try:
        for flag, value, env in (("--train-dir", args.train_dir, "SM_CHANNEL_TRAIN"), ("--model-dir", args.model_dir, "SM_CHANNEL_MODEL"), ("--output-dir", args.output_dir, "SM_MODEL_DIR")):
            if not value:
                raise UsageError(f"{flag} is required (or ${env} in a SageMaker job)")
        overrides = {k: getattr(args, k) for k in ("lora_r", "lora_alpha", "lora_dropout", "epochs", "learning_rate", "max_seq_len", "batch_size", "seed", "base_model", "base_revision", "dataset_version", "teacher")}
        hps = hyper_parameters(args.hps, overrides)
        manifest = train(args.train_dir, args.model_dir, args.output_dir, hps)
    except UsageError as e:
        print(f"train_lora: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"adapter": args.output_dir, "train_loss": manifest["train_loss"], "train_seconds": manifest["train_seconds"], "examples": manifest["examples"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
