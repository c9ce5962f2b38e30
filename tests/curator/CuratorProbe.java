// What a JVM service using Apache Curator's ServiceDiscovery sees of a service:
// the probe of curator_interop_test, compiled at test time against Debian's
// Curator jars (libcurator-discovery-java).
//
//   java CuratorProbe <connect string> <base path> <service name> <seconds>
//
// Polls ServiceDiscovery.queryForInstances every 20 ms for <seconds> and, each
// time the answer changes, prints one flushed line:
//
//   INSTANCES <epoch ms> <count> [<id>|<address>|<port>|<payload>|<bytes>]...
//
// sorted by id; <payload> is the deserialized payload (a Map) written back as
// JSON, and <bytes> is "same" when the node's data, read by Curator's
// JsonInstanceSerializer and written back by it, is exactly the data in
// ZooKeeper: what Curator itself would have written ("differ" otherwise,
// "gone" if the node went between the query and this read). Errors of the query print
// "ERROR <message>" and end the probe with exit code 1.

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.utils.ZKPaths;
import org.apache.curator.x.discovery.ServiceDiscovery;
import org.apache.curator.x.discovery.ServiceDiscoveryBuilder;
import org.apache.curator.x.discovery.ServiceInstance;
import org.apache.curator.x.discovery.details.JsonInstanceSerializer;
import org.apache.zookeeper.KeeperException;

public final class CuratorProbe {
  public static void main(String[] args) throws Exception {
    if (args.length != 4) {
      System.err.println(
          "usage: CuratorProbe <connect string> <base path> <service> <seconds>");
      System.exit(2);
    }
    final String basePath = args[1];
    final String service = args[2];
    final long end = System.currentTimeMillis() + Long.parseLong(args[3]) * 1000;

    CuratorFramework client =
        CuratorFrameworkFactory.newClient(args[0], new ExponentialBackoffRetry(100, 3));
    client.start();
    if (!client.blockUntilConnected(30, TimeUnit.SECONDS)) {
      System.out.println("ERROR cannot connect to " + args[0]);
      System.exit(1);
    }
    JsonInstanceSerializer<Map> serializer = new JsonInstanceSerializer<>(Map.class);
    ServiceDiscovery<Map> discovery =
        ServiceDiscoveryBuilder.builder(Map.class)
            .client(client)
            .basePath(basePath)
            .serializer(serializer)
            .build();
    discovery.start();
    ObjectMapper json = new ObjectMapper();

    String last = null;
    while (System.currentTimeMillis() < end) {
      List<String> seen = new ArrayList<>();
      try {
        Collection<ServiceInstance<Map>> instances = discovery.queryForInstances(service);
        for (ServiceInstance<Map> instance : instances) {
          String bytes;
          try {
            byte[] stored =
                client
                    .getData()
                    .forPath(ZKPaths.makePath(ZKPaths.makePath(basePath, service), instance.getId()));
            // The node re-read (not the queried instance, which a payload
            // update may have changed since), through Curator and back.
            byte[] curators = serializer.serialize(serializer.deserialize(stored));
            bytes = Arrays.equals(stored, curators) ? "same" : "differ";
          } catch (KeeperException.NoNodeException e) {
            bytes = "gone";
          }
          seen.add(
              instance.getId()
                  + "|" + instance.getAddress()
                  + "|" + instance.getPort()
                  + "|" + json.writeValueAsString(instance.getPayload())
                  + "|" + bytes);
        }
      } catch (Exception e) {
        System.out.println("ERROR queryForInstances(" + service + "): " + e);
        System.out.flush();
        System.exit(1);
      }
      seen.sort(Comparator.naturalOrder());
      String now = seen.size() + (seen.isEmpty() ? "" : " " + String.join(" ", seen));
      if (!now.equals(last)) {
        System.out.println("INSTANCES " + System.currentTimeMillis() + " " + now);
        System.out.flush();
        last = now;
      }
      Thread.sleep(20);
    }
    discovery.close();
    client.close();
  }
}
