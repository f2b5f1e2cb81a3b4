"""The docker-free local stack: moto as AWS, the template as the source of every resource."""
