"""moto_server with one change, for the EC2 job at scale: an instance's tags are looked up by its
id instead of by scanning every tag of every resource.

Why: stock moto (5.2.5) answers `TaggedEC2Resource.get_tags()` with
`describe_tags(filters={"resource-id": [id]})`, which walks all tags of all resources with a
regular expression per tag. DescribeInstances calls it for every instance, once for the
`tag:AUTOSTOP_ENABLE` filter and again to render the instance, so one page costs O(N × all tags):
at 10,000 tagged instances a single page did not answer within 60 seconds. Nothing else is changed:
the same answers, the same XML, the same pagination; the lookup returns exactly what
`describe_tags` returned for that one id (its key, value, resource id and type).

Usage (as moto_server): python tests/bench/fast_moto.py -H 127.0.0.1 -p PORT
"""

from __future__ import annotations

import sys

from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix
from moto.server import main


def get_tags(self) -> list[dict[str, str]]:
    resource_id = getattr(self, "id", None)
    if not resource_id:
        return []
    kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(resource_id), "")
    return [{"resource_id": resource_id, "key": key, "value": value, "resource_type": kind}
            for key, value in self.ec2_backend.tags.get(resource_id, {}).items()]


TaggedEC2Resource.get_tags = get_tags

if __name__ == "__main__":
    main(sys.argv[1:])
