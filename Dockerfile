FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY producers ./producers
COPY workers ./workers
COPY liveblog ./liveblog
COPY samples ./samples
RUN pip install --no-cache-dir . && useradd --system --uid 10001 liveblog
USER liveblog
# liveblog web, liveblog metrics
EXPOSE 8000 9108
ENTRYPOINT ["liveblog"]
CMD ["worker"]
