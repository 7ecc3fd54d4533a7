# The control plane on the cluster it drives: `spaces serve` (web UI, JSON API, River workers,
# the provisioner and the reconciler), two instances on two nodes, each ready only when its
# database answers and its migrations are applied (GET /readyz). Several `spaces serve` on one
# database cooperate: River elects one leader for the periodic work, and a migration at start
# takes an advisory lock, so a rolling update (one instance at a time) is safe.
#
# A plain Nomad jobspec with HCL2 variables, run as it is:
#
#   nomad var put nomad/jobs/spaces database_url=… tenant_database_url=… secret_key=… smtp_url=…
#   nomad job run -var image=ghcr.io/assospaces/spaces:1.0.0 -var public_url=https://espaces.example.org \
#     -var base_domain=espaces.example.org templates/spaces.nomad.hcl
#
# Secrets (database URLs, the secret key, the SMTP URL with its password) are read from the job's
# own Nomad Variable, nomad/jobs/spaces, into the task's secrets/: never in this file, never in
# the job Nomad stores. The job's workload identity is its Nomad token (NOMAD_TOKEN): attach the
# policy the service needs to the job (`nomad acl policy apply -namespace default -job spaces …`).
# spaces-dev.nomad.hcl is the same job on raw_exec, for the tests.

variable "image" {
  type        = string
  description = "the image holding the spaces binary as its entrypoint, such as ghcr.io/assospaces/spaces:1.0.0"
}

variable "public_url" {
  type        = string
  description = "the URL people reach the web UI at (SPACES_PUBLIC_URL), such as https://espaces.example.org"
}

variable "public_host" {
  type        = string
  default     = ""
  description = "the host name the router sends to the web UI (default: the host of public_url)"
}

variable "base_domain" {
  type        = string
  description = "the domain every space is served under (SPACES_BASE_DOMAIN)"
}

variable "tls_resolver" {
  type        = string
  default     = "letsencrypt-dns"
  description = "the router's certificate resolver for the web UI's certificate"
}

variable "datacenters" {
  type    = list(string)
  default = ["*"]
}

variable "count" {
  type    = number
  default = 2
}

locals {
  public_host = var.public_host != "" ? var.public_host : regex_replace(var.public_url, "^https?://([^/:]+).*$", "$1")
}

job "spaces" {
  type        = "service"
  datacenters = var.datacenters

  meta {
    spaces_role = "control-plane"
  }

  # One instance at a time: the other keeps serving while the new one migrates and starts.
  update {
    max_parallel      = 1
    health_check      = "checks"
    min_healthy_time  = "10s"
    healthy_deadline  = "3m"
    progress_deadline = "10m"
    auto_revert       = true
  }

  group "serve" {
    count = var.count

    # On different nodes when there are several: losing a node leaves one instance serving
    # while Nomad starts the lost one again elsewhere.
    spread {
      attribute = "${node.unique.id}"
    }

    network {
      port "http" {
        to = 8080
      }
    }

    restart {
      attempts = 3
      interval = "5m"
      delay    = "10s"
      mode     = "delay"
    }

    service {
      name     = "spaces"
      port     = "http"
      provider = "nomad"
      tags = [
        "traefik.enable=true",
        "traefik.http.routers.spaces.rule=Host(`${local.public_host}`)",
        "traefik.http.routers.spaces.entrypoints=websecure",
        "traefik.http.routers.spaces.tls=true",
        "traefik.http.routers.spaces.tls.certresolver=${var.tls_resolver}",
      ]

      # Ready: the database answers and every migration is applied. The router sends traffic
      # only to ready instances.
      check {
        name     = "ready"
        type     = "http"
        path     = "/readyz"
        interval = "5s"
        timeout  = "2s"
      }

      # Alive: an instance whose database stops answering for long is restarted.
      check {
        name     = "alive"
        type     = "http"
        path     = "/healthz"
        interval = "10s"
        timeout  = "3s"
        check_restart {
          limit = 6
          grace = "1m"
        }
      }
    }

    task "serve" {
      driver = "docker"

      # spaces serve stops gracefully: 20 s for running jobs, then 15 s for cancelled ones.
      kill_signal  = "SIGTERM"
      kill_timeout = "40s"

      config {
        image = var.image
        args  = ["serve"]
        ports = ["http"]
      }

      identity {
        env = true
      }

      env {
        SPACES_LISTEN         = "0.0.0.0:8080"
        SPACES_PUBLIC_URL     = var.public_url
        SPACES_BASE_DOMAIN    = var.base_domain
        SPACES_NOMAD_TEMPLATE = "production"
        SPACES_TLS_RESOLVER   = var.tls_resolver
        SPACES_LOG_FORMAT     = "json"
        # The Nomad agent of the node the instance runs on.
        NOMAD_ADDR = "http://${attr.unique.network.ip-address}:4646"
      }

      template {
        destination = "${NOMAD_SECRETS_DIR}/spaces.env"
        env         = true
        change_mode = "restart"
        data        = <<-EOT
        {{ with nomadVar "nomad/jobs/spaces" -}}
        SPACES_DATABASE_URL={{ .database_url }}
        SPACES_TENANT_DATABASE_URL={{ .tenant_database_url }}
        SPACES_SECRET_KEY={{ .secret_key }}
        SPACES_SMTP_URL={{ .smtp_url }}
        {{- end }}
        EOT
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
