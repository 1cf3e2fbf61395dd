#!/bin/bash
# Stages one model revision into the in-region weights bucket, run by the model store's CodeBuild
# project (or by hand). ModelScope is the default source in China; Hugging Face is not used.
# manifest.json is uploaded last: its presence means the revision is complete, so a re-run skips it.
set -euo pipefail

: "${MODEL_ID:?}" "${REVISION:?}" "${BUCKET:?}" "${PREFIX:?}" "${PIP_INDEX_URL:?}" "${PIP_PACKAGES:?}"
WORK_DIR="${WORK_DIR:-${CODEBUILD_SRC_DIR:-/tmp}/stage}"
DEST="s3://${BUCKET}/${PREFIX}"

# The build image is plain Python from the private ECR: the AWS CLI and the ModelScope client come
# pinned from a PyPI mirror reachable in China.
echo "installing ${PIP_PACKAGES} from ${PIP_INDEX_URL}"
read -r -a PACKAGES <<< "${PIP_PACKAGES}"
pip install --quiet --disable-pip-version-check --index-url "${PIP_INDEX_URL}" "${PACKAGES[@]}"

if aws s3api head-object --bucket "${BUCKET}" --key "${PREFIX}manifest.json" > /dev/null 2>&1; then
  echo "already staged: ${DEST}manifest.json exists; nothing to do"
  exit 0
fi

echo "downloading ${MODEL_ID}@${REVISION} from ModelScope"
rm -rf "${WORK_DIR}"
mkdir -p "${WORK_DIR}/model"
modelscope download --model "${MODEL_ID}" --revision "${REVISION}" --local_dir "${WORK_DIR}/model"
# Download bookkeeping is not part of the model.
rm -rf "${WORK_DIR}/model/._____temp" "${WORK_DIR}/model/.msc" "${WORK_DIR}/model/.mv"

echo "writing the manifest (sizes and sha256 of every file)"
MODEL_ID="${MODEL_ID}" REVISION="${REVISION}" python3 - "${WORK_DIR}/model" > "${WORK_DIR}/manifest.json" <<'PY'
import hashlib, json, os, sys, datetime
root = sys.argv[1]
files = []
for base, _, names in os.walk(root):
    for name in sorted(names):
        path = os.path.join(base, name)
        digest = hashlib.sha256()
        with open(path, 'rb') as f:
            for block in iter(lambda: f.read(1 << 20), b''):
                digest.update(block)
        files.append({'path': os.path.relpath(path, root), 'size': os.path.getsize(path), 'sha256': digest.hexdigest()})
files.sort(key=lambda f: f['path'])
print(json.dumps({
    'modelId': os.environ['MODEL_ID'], 'revision': os.environ['REVISION'], 'source': 'modelscope',
    'totalBytes': sum(f['size'] for f in files), 'files': files,
    'stagedAt': datetime.datetime.now(datetime.timezone.utc).isoformat(),
}, indent=1))
PY

echo "uploading to ${DEST}"
aws s3 cp --recursive --only-show-errors "${WORK_DIR}/model" "${DEST}"
aws s3 cp --only-show-errors "${WORK_DIR}/manifest.json" "${DEST}manifest.json"
echo "staged ${MODEL_ID}@${REVISION} at ${DEST}"
