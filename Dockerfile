FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
# data/, templates/ and static/ are read next to the code: install the checkout in place.
COPY . .
RUN pip install --no-cache-dir -e .
EXPOSE 8000
CMD ["sh", "-c", "carto db upgrade && carto demo load && carto serve --host 0.0.0.0 --port 8000"]
