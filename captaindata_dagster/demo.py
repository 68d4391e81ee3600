"""`make demo`: a people search and the profiles it found, through the client, on the simulator.

Runs with no key and no network: the bundled simulator serves synthetic data on loopback, and the
output says so.
"""

from __future__ import annotations

import sys

from .client import CaptainDataClient
from .simulator import run_simulator

SEARCH_URL = "https://www.linkedin.com/search/results/people/?keywords=data%20engineer&geoUrn=paris"


def main() -> int:
    with run_simulator(seed=42, latency_ms=20, rps=10) as sim:
        print(f"captaindata demo: SYNTHETIC data from the bundled simulator at {sim.base_url}")
        client = CaptainDataClient(sim.api_key, sim.base_url, requests_per_second=10)
        people = list(
            client.iter_results(
                "linkedin-search-people",
                {"linkedin_people_search_url": SEARCH_URL},
                integration_users=["demo-user"],
                max_results=12,
            )
        )
        print(f"\nlinkedin-search-people: {len(people)} people (max_results=12)\n")
        rows = []
        for person in people[:5]:
            profile = client.run_action(
                "linkedin-extract-people",
                {"linkedin_profile_url": person["linkedin_profile_url"]},
                parameters={"experiences": True},
                integration_users=["demo-user"],
            ).results[0]
            rows.append(
                (
                    profile.get("full_name", ""),
                    profile.get("job_title") or profile.get("headline", ""),
                    profile.get("company_name", ""),
                )
            )
        widths = [
            max(len(str(r[i])) for r in rows + [("name", "title", "company")]) for i in range(3)
        ]
        line = "  ".join(f"{{:<{w}}}" for w in widths)
        print(line.format("name", "title", "company"))
        print(line.format(*("-" * w for w in widths)))
        for row in rows:
            print(line.format(*row))
        ws = client.get_workspace()
        print(f"\ncredits used: {ws['credits_used']}  calls: {len(sim.requests)}")
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
