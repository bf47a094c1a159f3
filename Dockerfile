# SDK container for Dataflow, Flink and Spark workers: Beam's Python SDK image plus erlangshen-data,
# its dependencies, pkuseg's default model and a warm jieba cache, so a worker starts with nothing
# to install or download.
#
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/erlangshen-data:0.1.0 .
#   docker push REGION-docker.pkg.dev/PROJECT/REPO/erlangshen-data:0.1.0
#   erlangshen-data prepare --runner dataflow --sdk-container-image REGION-docker.pkg.dev/... ...
#
# Python and Beam must equal the launching environment's (the SDK harness and the pickled pipeline
# are version-bound). Every pip step below installs from the lock, the launcher's tested set, which is
# resolved for Python 3.11; `bash tasks.sh lock` keeps BEAM_VERSION equal to its apache-beam.
ARG PYTHON_VERSION=3.11
ARG BEAM_VERSION=2.78.0
FROM apache/beam_python${PYTHON_VERSION}_sdk:${BEAM_VERSION}
ARG BEAM_VERSION

WORKDIR /opt/erlangshen-data

# A base image of another Beam than the lock's would have it replaced under the SDK harness: stop here.
COPY requirements/constraints.txt requirements/
RUN grep -qx "apache-beam==${BEAM_VERSION}" requirements/constraints.txt \
 || { echo "BEAM_VERSION=${BEAM_VERSION} but the lock has $(grep '^apache-beam==' requirements/constraints.txt)" >&2; exit 1; }

# pkuseg 0.0.25 compiles against numpy and cython, which must be there before its build.
RUN pip install --no-cache-dir -c requirements/constraints.txt setuptools wheel numpy cython \
 && pip install --no-cache-dir -c requirements/constraints.txt --no-build-isolation pkuseg

# Dependencies first, in their own layer, so a code change rebuilds only the last layers.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
 && pip install --no-cache-dir -c requirements/constraints.txt -r /tmp/requirements.txt "apache-beam[gcp]"

COPY schemas schemas
COPY knowledge knowledge
COPY pipeline pipeline
COPY runners runners
COPY erlangshen_data erlangshen_data
COPY trainer trainer
COPY bench bench
COPY finetune finetune
RUN pip install --no-cache-dir --no-deps .

# jieba builds its prefix-dictionary cache in the temp dir on first use (a second or two per SDK
# process otherwise); loading pkuseg's model and the default lexicon proves they are in the image.
RUN python -c "import jieba; jieba.initialize()" \
 && python -c "import pkuseg; pkuseg.pkuseg()" \
 && python -c "from knowledge.lexicon import load_lexicons; print(len(load_lexicons([])), 'default lexicon entries')"

# The entry point stays Beam's boot program from the base image: it starts the SDK harness.
