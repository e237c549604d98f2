#!/usr/bin/env sh
# Lints the docker folder offline: docker/compose.yaml against the compose schema and dclint's rules
# (warnings fail too), docker/Dockerfile with dockerfilelint. Exits non-zero on any problem.
#   sh docker/validate.sh            (from anywhere; no Docker daemon needed)
#
# Rule settings, and why:
# - docker/.dclintrc.yaml: ports quoted with double quotes, as prettier writes YAML.
# - docker/.dockerfilelintrc: `missing_tag` off; dockerfilelint 1.8 predates multi-stage builds and reads
#   `FROM deps AS build` as an untagged image. It also misparses HEALTHCHECK's --start-period (it
#   matches options with /--\w+/, so it sees `--start`), which is why the Dockerfile does without it.
set -u
cd "$(dirname "$0")/.."

status=0

echo "dclint docker/compose.yaml"
npx -y dclint@3 --max-warnings 0 -c docker/.dclintrc.yaml docker/compose.yaml || status=1

echo "dockerfilelint docker/Dockerfile"
npx -y dockerfilelint@1 -c docker docker/Dockerfile || status=1

if [ "$status" -eq 0 ]; then echo "docker/: no problems"; else echo "docker/: problems found" >&2; fi
exit "$status"
