"""Registers the instance with the site's telemetry choice before Plane's api does (plane-k3s).

Plane v1.2.2's register_instance creates the Instance row with is_telemetry_enabled=True and queues
its trace task at once; the provisioning Job sets the site's choice only later. Run in the api's
container after the migrations and before Plane's entrypoint: on a first start, the row is made by
Plane's own command (its trace task held back) and set to the site's choice, so the entrypoint's
register_instance finds it and only updates its versions. Later starts change nothing.

    python manage.py shell --command "import plane_k3s_first_start; plane_k3s_first_start.main()"

Environment: PLANE_K3S_TELEMETRY ("1" or "0").
"""

import os
from unittest import mock


def main():
    from django.core.management import call_command
    from plane.license.models import Instance

    if Instance.objects.exists():
        print("first start: the instance is registered already")
        return
    telemetry = os.environ["PLANE_K3S_TELEMETRY"] == "1"
    with mock.patch("plane.license.management.commands.register_instance.instance_traces"):
        call_command("register_instance", "plane-k3s")
    Instance.objects.update(is_telemetry_enabled=telemetry)
    print(f"first start: instance registered, telemetry {'on' if telemetry else 'off'}")
