#!/bin/bash
# Boots one vLLM server on an ECS GPU-optimised Amazon Linux 2023 instance in an AWS China region.
# Nothing is fetched from outside the region: the image comes from private ECR, the weights from the
# in-region S3 bucket, Hugging Face is switched off (HF_HUB_OFFLINE) and so are vLLM's usage
# statistics (VLLM_NO_USAGE_STATS, DO_NOT_TRACK; lib/vllm/server.ts lists them). cn-llm-kit renders this file
# into user data with the values below set in front of it; they are checked here so a missing one
# fails loudly at boot instead of starting a half-configured server.
set -euo pipefail

: "${REGION:?}" "${ECR_REGISTRY:?}" "${VLLM_IMAGE:?}" "${MODEL_S3_URI:?}" "${SERVED_MODEL_NAME:?}"
: "${API_KEY_SECRET_ID:?}" "${MAX_MODEL_LEN:?}" "${GPU_MEMORY_UTILIZATION:?}" "${DTYPE:?}"
: "${TENSOR_PARALLEL_SIZE:?}" "${LOAD_FORMAT:?}" "${VLLM_PORT:?}" "${METRIC_NAMESPACE:?}" "${HEALTH_TIMEOUT_SECONDS:?}"
EXTRA_ARGS="${EXTRA_ARGS:-}"
# LoRA adapters: "name|version|s3 uri|1 (promotion required) or 0" each, space-separated; and vLLM's --enable-lora arguments.
ADAPTERS="${ADAPTERS:-}"
LORA_ARGS="${LORA_ARGS:-}"
CLOUDWATCH_AGENT_CONFIG="${CLOUDWATCH_AGENT_CONFIG:-}"

BOOT_STARTED=$(date +%s)
# Where the weights live (the instance store when there is one); tests point it elsewhere.
MODELS_MOUNT="${MODELS_MOUNT:-/opt/models}"
MODEL_DIR="${MODELS_MOUNT}/model"
# Written after the last weight file: a copy cut short by a reboot is made again.
STAGED_MARKER="${MODEL_DIR}/.cnllm-staged"
# This script, values included, kept on the root volume: systemd runs it again at every boot.
INSTALLED_SCRIPT=/usr/local/lib/cnllm/boot-vllm.sh
log() { echo "cn-llm-kit boot: $*" | systemd-cat -t cnllm-boot -p info; echo "cn-llm-kit boot: $*"; }

# Runs at first boot and, through cnllm-model-storage.service, at every boot after it. Instance
# store NVMe (g4dn, g5, p4d) is faster than EBS for weights, but a stop/start hands the instance a
# blank one: make the filesystem when there is none, mount it, and stage the weights when they are
# not all there. After a plain reboot the filesystem and the weights are still in place.
prepare_model_storage() {
  mkdir -p "${MODELS_MOUNT}"
  local devices
  mapfile -t devices < <(lsblk -dpno NAME,MODEL | awk '/Instance Storage/ {print $1}')
  if [ "${#devices[@]}" -gt 0 ] && ! mountpoint -q "${MODELS_MOUNT}"; then
    if ! blkid "${devices[0]}" > /dev/null 2>&1; then
      log "making a filesystem on the blank instance store ${devices[0]}"
      mkfs.xfs -f "${devices[0]}"
    fi
    log "mounting instance store ${devices[0]} on ${MODELS_MOUNT}"
    mount "${devices[0]}" "${MODELS_MOUNT}"
  fi
  if [ "${LOAD_FORMAT}" = "local" ] && [ ! -f "${STAGED_MARKER}" ]; then
    log "copying weights from ${MODEL_S3_URI}"
    aws configure set default.s3.max_concurrent_requests 64
    aws configure set default.s3.multipart_chunksize 64MB
    aws s3 cp --recursive --only-show-errors --region "${REGION}" "${MODEL_S3_URI}" "${MODEL_DIR}"
    touch "${STAGED_MARKER}"
  fi
  stage_adapters
}

# Each LoRA adapter next to the weights (vLLM reads adapters from local disk whatever the load format),
# copied once per version and checked before vLLM may load it: a directory without adapter_config.json,
# or one the pipeline did not promote while promotion is required, fails the boot (a rolling update
# then keeps the old instances) instead of serving what evaluation rejected.
stage_adapters() {
  local entries entry name version uri required dir
  read -r -a entries <<< "${ADAPTERS}"
  for entry in "${entries[@]}"; do
    IFS='|' read -r name version uri required <<< "${entry}"
    dir="${MODELS_MOUNT}/adapters/${name}"
    [ -f "${dir}/.cnllm-staged-${version}" ] && continue
    log "copying adapter ${name} ${version} from ${uri}"
    rm -rf "${dir}"
    aws s3 cp --recursive --only-show-errors --region "${REGION}" "${uri}" "${dir}"
    if [ ! -f "${dir}/adapter_config.json" ]; then
      log "adapter ${name} ${version}: ${uri} holds no adapter_config.json; fix models[].adapters"
      exit 1
    fi
    if [ "${required}" = "1" ] && [ ! -f "${dir}/promoted.json" ]; then
      log "adapter ${name} ${version} is not promoted (no promoted.json next to it): promote it, serve another version, or set requirePromoted false"
      exit 1
    fi
    touch "${dir}/.cnllm-staged-${version}"
  done
}

if [ "${1:-}" = "prepare-model-storage" ]; then
  prepare_model_storage
  exit 0
fi

# IMDSv2 only: the launch template requires session tokens.
imds() {
  local token
  token=$(curl -sS -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
  curl -sS -H "X-aws-ec2-metadata-token: ${token}" "http://169.254.169.254/latest/meta-data/$1"
}
INSTANCE_ID=$(imds instance-id)

# The ECS agent would try to join a cluster named "default"; this instance serves vLLM directly.
systemctl disable --now ecs.service 2>/dev/null || true

install -D -m 700 "${BASH_SOURCE[0]}" "${INSTALLED_SCRIPT}"

log "pulling ${VLLM_IMAGE} from ${ECR_REGISTRY}"
aws ecr get-login-password --region "${REGION}" | docker login --username AWS --password-stdin "${ECR_REGISTRY}"
docker pull "${VLLM_IMAGE}" &
PULL_PID=$!

prepare_model_storage
if [ "${LOAD_FORMAT}" = "local" ]; then
  MODEL_ARG=/models/model
else
  # Run:ai streamer reads safetensors from S3 straight into GPU memory; the container uses the instance role.
  MODEL_ARG="${MODEL_S3_URI}"
fi
wait "${PULL_PID}"

# The API key goes into a root-only env file: never on a command line, in user data or in logs.
install -d -m 700 /etc/cnllm
umask 077
API_KEY=$(aws secretsmanager get-secret-value --region "${REGION}" --secret-id "${API_KEY_SECRET_ID}" --query SecretString --output text)
printf 'VLLM_API_KEY=%s\n' "${API_KEY}" > /etc/cnllm/vllm.env
unset API_KEY
umask 022

read -r -a EXTRA <<< "${EXTRA_ARGS}"
VLLM_ARGS=("${MODEL_ARG}" --served-model-name "${SERVED_MODEL_NAME}" --host 0.0.0.0 --port "${VLLM_PORT}"
  --max-model-len "${MAX_MODEL_LEN}" --gpu-memory-utilization "${GPU_MEMORY_UTILIZATION}"
  --dtype "${DTYPE}" --tensor-parallel-size "${TENSOR_PARALLEL_SIZE}")
if [ "${LOAD_FORMAT}" = "runai_streamer" ]; then VLLM_ARGS+=(--load-format runai_streamer); fi
read -r -a LORA <<< "${LORA_ARGS}"
VLLM_ARGS+=("${LORA[@]}" "${EXTRA[@]}")

# At every boot: the weights' storage first (again after a stop/start), then vLLM.
cat > /etc/systemd/system/cnllm-model-storage.service <<UNIT
[Unit]
Description=Instance store and weights for vLLM (${SERVED_MODEL_NAME})
Wants=network-online.target
After=network-online.target
Before=cnllm-vllm.service

[Service]
Type=oneshot
RemainAfterExit=yes
TimeoutStartSec=${HEALTH_TIMEOUT_SECONDS}
Environment=HOME=/root
ExecStart=${INSTALLED_SCRIPT} prepare-model-storage

[Install]
WantedBy=multi-user.target
UNIT

# systemd restarts the container when it dies; Docker pulls nothing at start (the image is local).
cat > /etc/systemd/system/cnllm-vllm.service <<UNIT
[Unit]
Description=vLLM OpenAI-compatible server (${SERVED_MODEL_NAME})
After=docker.service cnllm-model-storage.service
Requires=docker.service cnllm-model-storage.service

[Service]
Restart=on-failure
RestartSec=10
TimeoutStartSec=0
ExecStartPre=-/usr/bin/docker rm -f vllm
ExecStart=/usr/bin/docker run --name vllm --pull never --gpus all --ipc=host --shm-size 8g \
  -p ${VLLM_PORT}:${VLLM_PORT} --env-file /etc/cnllm/vllm.env \
  -e HF_HUB_OFFLINE=1 -e TRANSFORMERS_OFFLINE=1 -e VLLM_NO_USAGE_STATS=1 -e DO_NOT_TRACK=1 \
  -e AWS_REGION=${REGION} -e AWS_DEFAULT_REGION=${REGION} \
  -v ${MODELS_MOUNT}:/models:ro ${VLLM_IMAGE} ${VLLM_ARGS[*]}
ExecStop=/usr/bin/docker stop -t 30 vllm

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable cnllm-model-storage.service
systemctl enable --now cnllm-vllm.service

if [ -n "${CLOUDWATCH_AGENT_CONFIG}" ]; then
  # GPU utilisation and memory (nvidia_gpu) with the CloudWatch agent from the Amazon Linux repository.
  dnf install -y -q amazon-cloudwatch-agent
  printf '%s' "${CLOUDWATCH_AGENT_CONFIG}" > /opt/aws/amazon-cloudwatch-agent/etc/cnllm.json
  /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:/opt/aws/amazon-cloudwatch-agent/etc/cnllm.json
fi

# /health answers only once the model is loaded (connection refused before).
log "waiting up to ${HEALTH_TIMEOUT_SECONDS}s for vLLM to load ${SERVED_MODEL_NAME}"
deadline=$((BOOT_STARTED + HEALTH_TIMEOUT_SECONDS))
until curl -fsS "http://127.0.0.1:${VLLM_PORT}/health" > /dev/null 2>&1; do
  if [ "$(date +%s)" -ge "${deadline}" ]; then
    log "vLLM did not become healthy in ${HEALTH_TIMEOUT_SECONDS}s; the load balancer will replace this instance"
    exit 1
  fi
  sleep 5
done

READY_SECONDS=$(( $(date +%s) - BOOT_STARTED ))
log "ready after ${READY_SECONDS}s"
aws cloudwatch put-metric-data --region "${REGION}" --namespace "${METRIC_NAMESPACE}" \
  --metric-name BootToReadySeconds --unit Seconds --value "${READY_SECONDS}" \
  --dimensions "ServedModel=${SERVED_MODEL_NAME}"
aws cloudwatch put-metric-data --region "${REGION}" --namespace "${METRIC_NAMESPACE}" \
  --metric-name BootToReadySeconds --unit Seconds --value "${READY_SECONDS}" \
  --dimensions "ServedModel=${SERVED_MODEL_NAME},InstanceId=${INSTANCE_ID}"
