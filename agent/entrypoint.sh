#!/bin/sh
# Start this job's own dockerd (DinD) when the container is privileged, then run the agent.
# The agent's exit code and stdout (TERARCHITECT_PR_URL=...) are the host's contract.
set -e
if [ -z "${TERARCHITECT_NO_DOCKERD:-}" ] && command -v dockerd >/dev/null 2>&1; then
  dockerd >/var/log/dockerd.log 2>&1 &
  i=0
  while ! docker info >/dev/null 2>&1 && [ $i -lt 30 ]; do i=$((i+1)); sleep 1; done
  docker info >/dev/null 2>&1 || echo "warning: dockerd did not start; docker is unavailable to this job" >&2
fi
exec terarchitect-agent "$@"
