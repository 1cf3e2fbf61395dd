"""Serves a base model with a LoRA adapter as an OpenAI-compatible chat endpoint on loopback, so
the evaluation step asks the student exactly as it asks any model (deployed: vLLM serves the
adapter as a LoRA module behind the gateway). Non-streamed /v1/chat/completions and /v1/models.

Usage: python3 training/serve_student.py --model-dir BASE --adapter-dir ADAPTER [--name student] [--port 0]
Prints one line "student on http://127.0.0.1:PORT/v1" when ready; stops on SIGTERM/SIGINT.
"""
import argparse
import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MAX_BODY = 1 << 20


def load(model_dir, adapter_dir):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    base = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, adapter_dir, local_files_only=True)
    model.eval()
    return torch, tokenizer, model


def make_handler(name, torch, tokenizer, model, default_max_tokens):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send_json(self, status, payload):
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def error(self, status, message, param=None, code=None):
            self.send_json(status, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}})

        def do_GET(self):
            if self.path.rstrip("/") == "/v1/models":
                return self.send_json(200, {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "student", "cross_border": False}]})
            self.error(404, f"no route {self.path}")

        def do_POST(self):
            if self.path.rstrip("/") != "/v1/chat/completions":
                return self.error(404, f"no route {self.path}")
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY:
                return self.error(413, "request body too large")
            try:
                request = json.loads(self.rfile.read(length) or b"{}")
                messages = [{"role": m["role"], "content": m["content"] if isinstance(m["content"], str) else " ".join(p.get("text", "") for p in m["content"])} for m in request["messages"]]
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                return self.error(400, "expected {\"messages\": [{\"role\", \"content\"}]}", "messages")
            if request.get("stream"):
                return self.error(400, "this local student server answers non-streamed requests only", "stream")
            if request.get("model") not in (None, name):
                return self.error(404, f"the model \"{request.get('model')}\" is not served here (serving {name})", "model", "model_not_found")
            max_tokens = int(request.get("max_tokens") or request.get("max_completion_tokens") or default_max_tokens)
            temperature = float(request.get("temperature") if request.get("temperature") is not None else 0)
            ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
            prompt_len = ids["input_ids"].shape[1]
            with torch.no_grad():
                out = model.generate(
                    **ids,
                    max_new_tokens=max_tokens,
                    do_sample=temperature > 0,
                    **({"temperature": temperature} if temperature > 0 else {}),
                    eos_token_id=tokenizer.eos_token_id,
                    pad_token_id=tokenizer.pad_token_id,
                )
            new = out[0][prompt_len:]
            stopped = len(new) > 0 and int(new[-1]) == tokenizer.eos_token_id
            text = tokenizer.decode(new, skip_special_tokens=True).strip()
            self.send_json(200, {
                "id": f"chatcmpl-student-{time.time_ns()}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": name,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop" if stopped or len(new) < max_tokens else "length"}],
                "usage": {"prompt_tokens": prompt_len, "completion_tokens": len(new), "total_tokens": prompt_len + len(new)},
            })

    return Handler


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--adapter-dir", required=True)
    parser.add_argument("--name", default="student")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-tokens", type=int, default=64, help="answer length when the request sets none")
    args = parser.parse_args(argv)
    torch, tokenizer, model = load(args.model_dir, args.adapter_dir)
    # Loopback only: the local student is for the evaluation on this machine, never a service.
    server = HTTPServer(("127.0.0.1", args.port), make_handler(args.name, torch, tokenizer, model, args.max_tokens))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"{args.name} on http://127.0.0.1:{server.server_address[1]}/v1", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
