#!/usr/bin/env python3
"""The seed 004 page's calls (the Docker SDK for Python's services API), as written, against the
Docker Engine API at $DOCKER_HOST — berth's Docker face in the suite. Prints one JSON line per step
for the test that runs it to assert on; exits non-zero on the first unexpected failure.

Environment: DOCKER_HOST (required), SEED004_NAME (the service's name, default seed004-web),
SEED004_IMAGE (default busybox:local, an image present on the machine: nothing is pulled),
SEED004_CHECK_LOGS=1 (a real server runs the instances: wait until service_logs shows the new output).
"""
import json
import os
import sys
import time

import docker


def step(step_name, **fields):
    print(json.dumps({'step': step_name, **fields}), flush=True)


def main():
    name = os.environ.get('SEED004_NAME', 'seed004-web')
    image = os.environ.get('SEED004_IMAGE', 'busybox:local')
    client = docker.APIClient(base_url=os.environ['DOCKER_HOST'])

    # Creating a service: a ContainerSpec in a TaskTemplate, a line printed every 0.2 s.
    container_spec = docker.types.ContainerSpec(
        image=image,
        command=['sh', '-c', 'while true; do echo "seed004 hello"; sleep 0.2; done'],
    )
    task_tmpl = docker.types.TaskTemplate(container_spec)
    created = client.create_service(task_tmpl, name=name)
    service_id = created['ID']
    step('create', id=service_id)

    # Listing services, by name and by id.
    by_name = client.services(filters={'name': name})
    step('list_by_name', ids=[s['ID'] for s in by_name], names=[s['Spec']['Name'] for s in by_name])
    by_id = client.services(filters={'id': service_id})
    step('list_by_id', ids=[s['ID'] for s in by_id], names=[s['Spec']['Name'] for s in by_id])

    # Retrieving the service's configuration.
    inspected = client.inspect_service(service=service_id)
    old_version = inspected['Version']['Index']
    spec = inspected['Spec']['TaskTemplate']['ContainerSpec']
    step('inspect', id=inspected['ID'], name=inspected['Spec']['Name'], version=old_version, image=spec['Image'], command=spec.get('Command'))

    # Updating it with the version from inspect: the command changes.
    container_spec = docker.types.ContainerSpec(
        image=image,
        command=['sh', '-c', 'while true; do echo "seed004 hello world"; sleep 0.2; done'],
    )
    task_tmpl = docker.types.TaskTemplate(container_spec)
    svc_version = client.inspect_service(service_id)['Version']['Index']
    updated = client.update_service(service_id, svc_version, name=name, task_template=task_tmpl)
    after = client.inspect_service(service_id)
    step('update', result=updated, version=after['Version']['Index'],
         command=after['Spec']['TaskTemplate']['ContainerSpec'].get('Command'),
         previous_command=(after.get('PreviousSpec') or {}).get('TaskTemplate', {}).get('ContainerSpec', {}).get('Command'))

    # With a real server (SEED004_CHECK_LOGS=1): the service's logs show the new command's output.
    if os.environ.get('SEED004_CHECK_LOGS') == '1':
        deadline = time.time() + 60
        seen = []
        while time.time() < deadline:
            lines = client.service_logs(service_id, stdout=True, stderr=True, tail='50')
            seen = [chunk.decode('utf-8', 'replace') for chunk in lines]
            if any('seed004 hello world' in line for line in seen):
                break
            time.sleep(0.5)
        step('logs_after_update', new_output=any('seed004 hello world' in line for line in seen),
             old_output=any(line.rstrip().endswith('seed004 hello') for line in seen), sample=seen[-3:])

    # A second update with the old version is refused: "update out of sequence".
    try:
        client.update_service(service_id, old_version, name=name, task_template=task_tmpl)
        step('stale_update', refused=False)
        return 1
    except docker.errors.APIError as error:
        step('stale_update', refused=True, status_code=error.status_code, explanation=error.explanation)

    # Removing the service by id.
    removed = client.remove_service(service_id)
    after_remove = client.services(filters={'id': service_id})
    step('remove', result=removed, remaining=[s['ID'] for s in after_remove])
    try:
        client.inspect_service(service_id)
        step('inspect_removed', not_found=False)
    except docker.errors.NotFound as error:
        step('inspect_removed', not_found=True, status_code=error.status_code, explanation=error.explanation)
    return 0


if __name__ == '__main__':
    sys.exit(main())
