"""Talking to Microsoft Graph through the unmodified msgraph-sdk.

* :mod:`.target` — where to connect (public/national cloud or the emulator); plain data.
* :mod:`.connect` — ``graph_client(target)``: credential + GraphServiceClient.
* :mod:`.state` — ``read_state(client, apps)``: what the tenant holds, as dataclasses.
* :mod:`.bodies` — desired state -> SDK request bodies.
* :mod:`.failures` / :mod:`.retry` / :mod:`.http_retry` — one-line errors (a 403 names the missing
  permission, :mod:`.least_privilege`); bounded, reported retries of throttling, outages and
  replication lag (:mod:`.trace` carries the current action to the messages).

The CLI loop is ``graph_client`` -> ``read_state`` -> ``provisioner.model.desired.build_desired``
-> ``provisioner.engine.planner.make_plan`` -> ``provisioner.engine.apply.apply_plan``. Nothing here imports
msgraph or azure at module import time, so ``provisioner validate`` stays fast.
"""
