"""The target interface: what faults, guards, remediations and checks need from the platform under drill,
whatever runs it. `alertdrill.target.stack.Stack` (docker compose) is one implementation; a Kubernetes
target (docs/kubernetes.md) is another module implementing the same methods, not a rewrite:

    operation            compose (Stack)                      Kubernetes (a KubeTarget, to be written)
    start(service)       docker compose start                 kubectl scale deploy/<s> --replicas=<n>
    stop(service)        docker compose stop                  kubectl scale deploy/<s> --replicas=0
    restart(service)     docker compose restart               kubectl rollout restart deploy/<s>
    kill(service, sig)   docker kill --signal                 kubectl delete pod -l app=<s> --grace-period=0
    remove(service)      docker compose rm --stop --force     kubectl delete deploy/<s>
    create(service)      docker compose up -d --no-deps       kubectl apply -f <its manifest>
    exec(service, cmd)   docker exec                          kubectl exec deploy/<s> -- cmd
    exec_detached(...)   docker exec -d                       kubectl exec deploy/<s> -- cmd & (a job)
    read_file(s, path)   cat in the container                 kubectl exec ... cat (or the ConfigMap)
    write_file(s, p, t)  write in the container, bytes exact  kubectl exec ... (or patch the ConfigMap)
    started_at(services) the containers' StartedAt            the pods' startTime
    states(services)     state of each, as state() words      the same, per deployment
    logs(service, ...)   docker logs                          kubectl logs deploy/<s> --since
    state(service)       running (healthy) | exited | missing  ready replicas / desired, as the same words
    status()             compose ps                           kubectl get deploy,sts -o json
    endpoints            127.0.0.1 ports                       port-forwards or in-cluster Service URLs
    overrides            compose variables for the runbook     KUBECONFIG, namespace for the runbook
    follow(script)       the lane's container names and ports  the namespace's names (or as written)

Faults, guards, remediations and checks reach the platform only through `ctx.stack` (this protocol) and
`ctx.toxiproxy` (a Toxiproxy API, in a cluster a sidecar); nothing in alertdrill/engine names docker or
compose. Behind it, Stack reaches containers with the Docker SDK and the stack with the compose CLI.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from alertdrill.target.settings import Endpoints


@runtime_checkable
class StackControl(Protocol):
    endpoints: Endpoints
    overrides: dict[str, str]  # environment for the runbook's commands (compose variables, KUBECONFIG...)

    def up(self) -> None: ...

    def down(self) -> None: ...

    def healthy(self) -> bool: ...

    def describe(self) -> str: ...

    def start(self, service: str) -> None: ...

    def stop(self, service: str) -> None: ...

    def restart(self, service: str) -> None: ...

    def kill(self, service: str, signal: str = "SIGKILL") -> None: ...

    def remove(self, service: str) -> None: ...  # the container gone, not just stopped

    def create(self, service: str) -> None: ...  # created and started again, as its definition says

    def exec(self, service: str, cmd: list[str] | str) -> tuple[int, str]: ...

    def exec_detached(self, service: str, cmd: list[str], *, environment: dict[str, str] | None = None) -> None: ...

    def read_file(self, service: str, path: str) -> str: ...

    def write_file(self, service: str, path: str, text: str) -> None: ...

    def started_at(self, services) -> dict[str, float | None]: ...

    def states(self, services) -> dict[str, str]: ...

    def logs(self, service: str, since: float | None = None, tail: int | str = "all") -> str: ...

    def state(self, service: str) -> str: ...

    def follow(self, script: str) -> str: ...  # the runbook's shell text as run against this target

    def close(self) -> None: ...
