# SDK container for Dataflow, Flink and Spark workers: Beam's Python SDK image plus erlangshen-data,
# its dependencies, pkuseg's default model and a warm jieba cache, so a worker starts with nothing
# to install or download.
#
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/erlangshen-data:0.1.0 .
#   docker push REGION-docker.pkg.dev/PROJECT/REPO/erlangshen-data:0.1.0
#   erlangshen-data prepare --runner dataflow --sdk-container-image REGION-docker.pkg.dev/... ...
#
# Python and Beam must equal the launching environment's (the SDK harness and the pickled pipeline
# are version-bound): override the build args when yours differ.
ARG PYTHON_VERSION=3.11
ARG BEAM_VERSION=2.77.0
FROM apache/beam_python${PYTHON_VERSION}_sdk:${BEAM_VERSION}
ARG BEAM_VERSION

WORKDIR /opt/erlangshen-data

# pkuseg 0.0.25 compiles against numpy and cython, which must be there before its build.
RUN pip install --no-cache-dir "numpy>=1.24" "cython>=3" \
 && pip install --no-cache-dir --no-build-isolation "pkuseg>=0.0.25"

# Dependencies first, in their own layer, so a code change rebuilds only the last layers.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt "apache-beam[gcp]==${BEAM_VERSION}"

COPY schemas schemas
COPY knowledge knowledge
COPY pipeline pipeline
COPY runners runners
COPY erlangshen_data erlangshen_data
COPY trainer trainer
COPY bench bench
RUN pip install --no-cache-dir --no-deps .

# jieba builds its prefix-dictionary cache in the temp dir on first use (a second or two per SDK
# process otherwise); loading pkuseg's model and the default lexicon proves they are in the image.
RUN python -c "import jieba; jieba.initialize()" \
 && python -c "import pkuseg; pkuseg.pkuseg()" \
 && python -c "from knowledge.lexicon import load_lexicons; print(len(load_lexicons([])), 'default lexicon entries')"

# The entry point stays Beam's boot program from the base image: it starts the SDK harness.
