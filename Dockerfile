# riskmodels on the official Airflow image (Airflow 3.3, Python 3.11).
FROM apache/airflow:3.3.2-python3.11

ENV RISKMODELS_HOME=/opt/riskmodels \
    RISKMODELS_VAR=/opt/airflow/var

COPY --chown=airflow:root pyproject.toml README.md /opt/riskmodels/
COPY --chown=airflow:root riskmodels /opt/riskmodels/riskmodels
COPY --chown=airflow:root config /opt/riskmodels/config
COPY --chown=airflow:root data /opt/riskmodels/data
COPY --chown=airflow:root expectations /opt/riskmodels/expectations
COPY --chown=airflow:root sql /opt/riskmodels/sql
COPY --chown=airflow:root dags /opt/airflow/dags

# Keep the image's Airflow version pinned while adding the project (the image's documented way).
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" /opt/riskmodels
