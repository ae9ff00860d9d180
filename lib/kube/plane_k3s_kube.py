"""The Kubernetes API as a Job's pod sees it with its ServiceAccount (python3, standard library only).

Mounted beside the Jobs' scripts that use it (the secrets bootstrap, the keep-data guard), which import
it from their own folder.
"""
import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request

ACCOUNT = os.environ.get("PLANE_K3S_SERVICE_ACCOUNT_DIR", "/var/run/secrets/kubernetes.io/serviceaccount")


class Api:
    """Calls with the ServiceAccount's token, checked against the cluster's CA."""

    def __init__(self):
        host = os.environ["KUBERNETES_SERVICE_HOST"]
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        self.base = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
        with open(os.path.join(ACCOUNT, "token"), encoding="ascii") as token:
            self.token = token.read().strip()
        self.context = ssl.create_default_context(cafile=os.path.join(ACCOUNT, "ca.crt"))

    def call(self, method, path, body=None, content_type="application/json", query=None):
        """Returns the status and the object, or the error's message as {"message": …}."""
        data = json.dumps(body).encode() if body is not None else None
        url = self.base + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=30) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            try:
                reason = json.load(error).get("message", "")
            except ValueError:
                reason = ""
            return error.code, {"message": reason}

    def apply(self, path, body, field_manager):
        """Server-side apply (JSON is YAML), forced: the object as given, whatever was changed by hand."""
        return self.call("PATCH", path, body, "application/apply-patch+yaml", {"fieldManager": field_manager, "force": "true"})
