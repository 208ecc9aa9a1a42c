# labreport with the course's stack (CPU torch), Pango and the DejaVu fonts.
#
#   docker build -t labreport .
#   docker run --rm -v "$PWD":/project labreport build exp5
#
# The install steps are scripts/docker-install.sh, which CI can run without Docker. Programs run
# confined where the kernel allows it: Landlock needs no privilege, a private /dev/shm needs user
# namespaces, which Docker's default seccomp profile refuses (programs then share the container's).
FROM python:3.11-slim

COPY . /opt/labreport-src
RUN bash /opt/labreport-src/scripts/docker-install.sh /opt/labreport-src \
    && rm -rf /opt/labreport-src /var/lib/apt/lists/*

# A project mounted here; its .labreport/ and build/ are written back into it.
WORKDIR /project
ENTRYPOINT ["labreport"]
CMD ["--help"]
