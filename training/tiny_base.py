"""A tiny base model for running the distillation pipeline on one CPU: a 2-layer Qwen2 with
random weights (about 1M parameters) and a byte-level BPE tokenizer trained on the pipeline's own
training data. Nothing is downloaded (HF_HUB_OFFLINE=1): the local run needs no Hugging Face
access, and from China there often is none. It learns the data's surface form in seconds; it is
for checking the pipeline end to end, not for answering well.

Usage: python3 training/tiny_base.py --data distill-out/dataset/train.jsonl --out distill-out/base-model
"""
import argparse
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

# ChatML, the format of the Qwen family the kit serves: the tiny model is trained on the same layout.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def texts_of(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            for message in json.loads(line)["messages"]:
                content = message.get("content")
                if isinstance(content, str):
                    yield f"{message.get('role', '')}\n{content}"


def build(data, out, vocab_size=4000, hidden_size=256, layers=2, seed=0):
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator(texts_of(data), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None, unk_token=None)
    tokenizer.chat_template = CHAT_TEMPLATE

    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"base_model": out, "parameters": params, "vocab": len(tokenizer)}))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="train.jsonl (chat messages) to train the tokenizer on")
    parser.add_argument("--out", required=True, help="directory for the model and tokenizer (Hugging Face layout)")
    parser.add_argument("--vocab-size", type=int, default=4000)
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--layers", type=int, default=2)
    args = parser.parse_args(argv)
    build(args.data, args.out, args.vocab_size, args.hidden_size, args.layers)


if __name__ == "__main__":
    main(sys.argv[1:])
